"""The celery section of the report: W1 and W2 with 1, 2 and 4 workers, Tradewind's and
Airflow's, next to the local executor's figures of the same run."""

from __future__ import annotations

from typing import Any

from bench.airflow_side import AIRFLOW_VERSION
from bench.celery_side import FIGURES, CeleryResult
from bench.figures import Figure, FigureSet, speedup
from bench.report import fmt

SIDES = {"tradewind": "Tradewind", "airflow": f"Airflow {AIRFLOW_VERSION}"}


def _cell(figure: Figure | None) -> str:
    if figure is None or (not figure.values and not figure.error):
        return "—"
    if figure.error:
        return f"FAILED: {figure.error[:80]}"
    if len(figure.values) == 1:
        return fmt(figure.median, figure.unit)
    return (
        f"**{fmt(figure.median, figure.unit)}** ({fmt(figure.min, figure.unit)}–"
        f"{fmt(figure.max, figure.unit)})"
    )


def _column(result: CeleryResult) -> str:
    workers = f"{result.workers} worker{'s' if result.workers > 1 else ''}"
    return (
        f"{SIDES.get(result.orchestrator, result.orchestrator)}, {workers} × {result.concurrency}"
    )


def _label(key: str, local: FigureSet, results: list[CeleryResult]) -> str | None:
    for figures in [local, *(result.figures for result in results)]:
        figure = figures.get(key)
        if figure is not None:
            return figure.label
    return None


def section(local: FigureSet, results: list[CeleryResult], meta: dict[str, Any]) -> list[str]:
    """Markdown lines; none when nothing ran through Celery."""
    if not results:
        return []
    counts = [str(n) for n in meta["workers"]]
    counts_text = " and ".join([", ".join(counts[:-1]), counts[-1]] if len(counts) > 1 else counts)
    lines = [
        "",
        f"## Celery executor: W1 and W2 with {counts_text} workers (PostgreSQL + Redis)",
        "",
        "One deployment per worker count, every role its own process: the API server, the "
        "scheduler with the celery executor, the DAG processor and N Celery workers "
        "(`tradewind celery worker`, on a home of their own with an empty DAG folder and no "
        "database; `airflow celery worker`); a fresh PostgreSQL database per deployment, Redis "
        f"as the broker ({meta['broker']}), a queue of its own per deployment. The workers "
        f"share {meta['slots']} slots evenly (`--concurrency` = {meta['slots']} ÷ workers, the "
        "column's `× n`): 16 is what one DAG may run at once (max_active_tasks_per_dag) and what "
        "one worker runs by default (worker_concurrency) on both, so each worker count offers "
        "W2 the same slots and the columns differ by what spreading them over workers costs. "
        "Same DAGs, warm-up and repetitions as the local executor's, figures from the same "
        "timestamps. The local executor column is this run's `tradewind standalone` above. On "
        "a 2-core machine N workers, the API server, the scheduler and the tries share two "
        "cores: more workers add processes, not cores.",
        "",
    ]
    header = ["Figure", "Local executor", *(_column(result) for result in results)]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    keys = [key for key in FIGURES if _label(key, local, results) is not None]
    for key in keys:
        cells = [str(_label(key, local, results)), _cell(local.get(key))]
        cells += [_cell(result.figures.get(key)) for result in results]
        lines.append("| " + " | ".join(cells) + " |")
    lines += _ratios(keys, local, results)
    lines += ["", "Per deployment:", ""]
    for result in results:
        facts = result.facts
        parts = []
        if facts.get("ready_s") is not None:
            parts.append(f"ready {facts['ready_s']:.1f} s after launch (migration included)")
        spread = facts.get("messages_per_worker")
        if spread:
            parts.append(
                "messages taken per worker (warm-ups included): "
                + ", ".join(f"{name} {count}" for name, count in spread.items())
            )
        if facts.get("api_retries"):
            parts.append(f"{facts['api_retries']} REST call(s) retried after a server error")
        if facts.get("error"):
            parts.append(f"stopped: {facts['error']} (logs: {facts.get('logs')})")
        lines.append(f"- {_column(result)}: " + "; ".join(parts) + ".")
    settings = next(
        (
            r.facts["settings"]
            for r in results
            if r.orchestrator == "airflow" and "settings" in r.facts
        ),
        None,
    )
    if settings:
        lines += [
            "",
            "Airflow's settings (first deployment): "
            + ", ".join(f"{k} = `{v}`" for k, v in settings.items())
            + ".",
        ]
    return lines


def _ratios(keys: list[str], local: FigureSet, results: list[CeleryResult]) -> list[str]:
    """Airflow's celery figure over Tradewind's with the same worker count (rates the other
    way round): how many times better Tradewind is."""
    tradewind = {r.workers: r for r in results if r.orchestrator == "tradewind"}
    airflow = {r.workers: r for r in results if r.orchestrator == "airflow"}
    shared = [n for n in tradewind if n in airflow]
    if not shared:
        return []
    lines = [
        "",
        "Tradewind better by (Airflow's median ÷ Tradewind's, rates the other way round), "
        "same worker count:",
        "",
        "| Figure | " + " | ".join(f"{n} worker{'s' if n > 1 else ''}" for n in shared) + " |",
        "|" + "---|" * (len(shared) + 1),
    ]
    for key in keys:
        cells = [str(_label(key, local, list(results)))]
        for n in shared:
            ours, theirs = tradewind[n].figures.get(key), airflow[n].figures.get(key)
            factor = speedup(ours, theirs) if ours is not None and theirs is not None else None
            cells.append("—" if factor is None else f"{factor:,.1f}×")
        lines.append("| " + " | ".join(cells) + " |")
    return lines
