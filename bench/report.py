"""Results on disk: the JSON of everything measured and the markdown table people read.

Every time figure also appears as a multiple of the run's baseline (one bare ``python -c
pass`` on the same machine, same run): on a slower or busier machine both move together,
so the ratio stays comparable between runs where the raw seconds do not.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench import peer_report
from bench.figures import Figure, FigureSet, speedup
from bench.peer_side import PeerResult

AIRFLOW_FACTOR = 20.0
#: Figures the issue holds to "at least 20 times faster than Airflow".
AIRFLOW_TARGETS = ("W1.wall", "W1.hop_median", "W2.wall", "W2.rate")


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return info


def git_revision(root: Path) -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev}{' + uncommitted changes' if dirty else ''}" if rev else "unknown"


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ms":
        text = f"{value:.1f}" if value < 100 else f"{value:,.0f}"
    elif unit == "s":
        text = f"{value:.3f}" if value < 10 else f"{value:,.1f}"
    elif unit in {"packages", "processes"}:
        text = f"{value:.0f}"
    elif unit == "% of a core":
        text = f"{value:.1f}"
    else:
        text = f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    return f"{text} {unit}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}×" if value >= 100 else f"{value:.1f}×"


def _met(flag: bool | None) -> str:
    return {True: "✅", False: "❌", None: ""}[flag]


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def results_json(
    meta: dict[str, Any],
    figures: FigureSet,
    airflow: FigureSet | None,
    airflow_facts: dict[str, Any] | None,
    raw: dict[str, Any],
    notes: list[str],
    peers: list[PeerResult] | None = None,
) -> dict[str, Any]:
    return {
        "meta": meta,
        "ok": all(figure.ok for figure in figures),
        "tradewind": [figure.to_json() for figure in figures],
        "airflow": None
        if airflow is None
        else {"facts": airflow_facts, "figures": [figure.to_json() for figure in airflow]},
        "peers": None if peers is None else [result.to_json() for result in peers],
        "notes": notes,
        "raw": raw,
    }


def markdown(
    meta: dict[str, Any],
    figures: FigureSet,
    airflow: FigureSet | None,
    airflow_facts: dict[str, Any] | None,
    notes: list[str],
    plot: str | None,
    peers: list[PeerResult] | None = None,
    celery: list[str] | None = None,
) -> str:
    """The report; ``celery`` is the celery section's lines (``celery_report.section``)."""
    baseline = figures.get("baseline.each")
    base_s = baseline.seconds_each() if baseline is not None else None
    floor = figures.get("baseline.fork")
    fork_s = floor.seconds_each() if floor is not None else None
    m = meta["machine"]
    lines = [
        f"# Tradewind benchmark ({meta['db']})",
        "",
        f"Run {meta['started']} · {meta['duration_s']:.0f} s · commit {meta['git']} · "
        f"{m.get('cores')} cores, {m.get('memory_gib')} GiB, {m.get('cpu', '?')} · Python "
        f"{m.get('python')} · repetitions "
        f"{meta['repeat']}{' · QUICK (reduced sizes)' if meta['quick'] else ''} · "
        f"`{meta['command']}`",
        "",
        'Median of the repetitions, with min and max. "≈ py starts" is the median divided by the '
        "run's baseline, one bare `python -c pass` (for a rate: the time per task); it survives a "
        'noisy machine better than seconds do. "≈ forks" divides it by the other floor measured '
        "in the same run, a fork of a warm process + its exit + the wait.",
        "",
    ]
    header = [
        "Figure",
        "Tradewind (median)",
        "min",
        "max",
        "≈ py starts",
        "≈ forks",
        "Target",
        "Met",
    ]
    if airflow is not None:
        header += [
            f"Airflow {airflow_facts.get('version', '') if airflow_facts else ''} (median)",
            "Tradewind better by",
            "≥ 20×",
        ]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    footnotes: list[str] = []
    for figure in figures:
        cells = _row(figure, base_s, fork_s, airflow)
        if figure.notes and not figure.error:
            if figure.notes not in footnotes:
                footnotes.append(figure.notes)
            cells[0] += f" [{footnotes.index(figure.notes) + 1}]"
        lines.append("| " + " | ".join(cells) + " |")
    if footnotes:
        lines += [""] + [f"[{i}] {note}  " for i, note in enumerate(footnotes, 1)]
    missed = [f for f in figures if f.met() is False]
    failed = [f for f in figures if f.error]
    lines += ["", "## Targets", ""]
    if missed:
        lines += [
            f"- Missed: {f.label} = {fmt(f.median, f.unit)} (target {f.target.describe(f.unit)})"
            for f in missed
            if f.target is not None
        ]
    met = [f for f in figures if f.met() is True]
    lines += [
        f"- Met: {f.label} = {fmt(f.median, f.unit)} (target {f.target.describe(f.unit)})"
        for f in met
        if f.target is not None
    ]
    if failed:
        lines += ["", "Failed to measure:"] + [f"- {f.label}: {f.error}" for f in failed]
    if airflow is not None:
        lines += ["", "## Airflow side", ""]
        facts = airflow_facts or {}
        if facts.get("error"):
            lines.append(f"Airflow run stopped early: {facts['error']} (log: {facts.get('log')}).")
        settings = facts.get("settings") or {}
        lines.append(
            f"Apache Airflow {facts.get('version')} `airflow standalone`, its defaults: "
            + ", ".join(f"{k} = `{v}`" for k, v in settings.items())
            + ". "
            "Same DAG files (only the imports differ), same trigger → done definition (run "
            "end_date minus the instant before the trigger request), runs triggered through the "
            "REST API (POST /api/v2/dags/{id}/dagRuns) and task instances read from it. "
            "Tradewind's defaults match: parallelism 32, 16 active tasks and 16 active runs per "
            "DAG, SQLite, local executor."
        )
        if facts.get("api_retries"):
            lines.append(
                f"Airflow's REST API answered {facts['api_retries']} call(s) with a server error "
                "(its SQLite metastore was locked); each was tried again after a pause, up to 5 "
                "times."
            )
    lines += peer_report.section(figures, airflow, airflow_facts, peers or [])
    lines += celery or []
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    if plot:
        lines += [
            "",
            "## Per-task start delays (W1 hops, W2 fan-out)",
            "",
            f"![per-task start delays]({plot})",
        ]
    return "\n".join(lines) + "\n"


def _row(
    figure: Figure, base_s: float | None, fork_s: float | None, airflow: FigureSet | None
) -> list[str]:
    if figure.error:
        cells = [figure.label, f"FAILED: {figure.error[:120]}", "", "", "", "", "", "❌"]
    else:
        each = figure.seconds_each()
        cells = [
            figure.label,
            f"**{fmt(figure.median, figure.unit)}**",
            fmt(figure.min, figure.unit),
            fmt(figure.max, figure.unit),
            f"{each / base_s:.1f}" if each is not None and base_s else "—",
            f"{each / fork_s:,.0f}" if each is not None and fork_s else "—",
            figure.target.describe(figure.unit) if figure.target else "",
            _met(figure.met()),
        ]
    if airflow is not None:
        other = airflow.get(figure.key)
        if other is None:
            cells += ["", "", ""]
        elif other.error:
            cells += [f"FAILED: {other.error[:120]}", "", ""]
        else:
            factor = speedup(figure, other)
            verdict = (
                _met(factor >= AIRFLOW_FACTOR)
                if factor is not None and figure.key in AIRFLOW_TARGETS
                else ""
            )
            cells += [
                fmt(other.median, other.unit)
                + f" ({fmt(other.min, other.unit)}–{fmt(other.max, other.unit)})",
                _ratio(factor),
                verdict,
            ]
    return cells


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
