"""The peers' section of the report: W1-W3 for Tradewind, Airflow and each peer variant side
by side, with how each system isolates one task from another and where its timestamps come
from. Isolation is half of the comparison: a runner that keeps every task in one process
skips the cost Tradewind and Airflow pay for giving each try its own.
"""

from __future__ import annotations

from typing import Any

from bench.figures import Figure, FigureSet
from bench.peer_side import AIRFLOW_ISOLATION, TRADEWIND_ISOLATION, PeerResult

#: The figures compared, in table order.
KEYS = (
    "W1.wall",
    "W1.hop_median",
    "W1.first_start",
    "W1.cold",
    "W2.wall",
    "W2.rate",
    "W3.wall",
    "W3.rate",
)


def _floors(figure: Figure, floors: tuple[float | None, float | None]) -> str:
    """The median as multiples of the run's two floors (for a rate: the time per task)."""
    each = figure.seconds_each()
    py_s, fork_s = floors
    if each is None:
        return ""
    parts = [
        f"{each / floor:,.0f} {name}" if each / floor >= 100 else f"{each / floor:.1f} {name}"
        for floor, name in ((py_s, "py"), (fork_s, "forks"))
        if floor
    ]
    return f" ≈ {' / '.join(parts)}" if parts else ""


def _cell(figure: Figure | None, floors: tuple[float | None, float | None]) -> str:
    from bench.report import fmt  # report imports this module

    if figure is None:
        return "—"
    if figure.error:
        return f"FAILED: {figure.error[:80]}"
    if not figure.values:
        return "—"
    if len(figure.values) == 1:
        return fmt(figure.median, figure.unit) + _floors(figure, floors)
    return (
        f"**{fmt(figure.median, figure.unit)}** ({fmt(figure.min, figure.unit)}–"
        f"{fmt(figure.max, figure.unit)}){_floors(figure, floors)}"
    )


def _seconds_each(figures: FigureSet, key: str) -> float | None:
    figure = figures.get(key)
    return figure.seconds_each() if figure is not None else None


def _label(key: str, sides: list[FigureSet]) -> str | None:
    for figures in sides:
        figure = figures.get(key)
        if figure is not None:
            return figure.label
    return None


def section(
    tradewind: FigureSet,
    airflow: FigureSet | None,
    airflow_facts: dict[str, Any] | None,
    peers: list[PeerResult],
) -> list[str]:
    """Markdown lines of the section (empty when no peer ran)."""
    if not peers:
        return []
    columns: list[tuple[str, FigureSet]] = [("Tradewind", tradewind)]
    if airflow is not None:
        version = (airflow_facts or {}).get("version", "")
        columns.append((f"Airflow {version}".strip(), airflow))
    columns += [
        (f"{result.variant.title} {result.facts.get('version', '')}".strip(), result.figures)
        for result in peers
    ]
    lines = [
        "",
        "## Peers: W1-W3 on Prefect and Dagster",
        "",
        "Median of the repetitions (min–max). The same workloads and the same definitions: "
        "trigger → done is the run's recorded end minus the instant just before the run was "
        "started; a hop is a task's recorded start minus its upstream's recorded end; rates count "
        'every task over trigger → done. "≈ N py / M forks" is the median (for a rate: the '
        "time per task) divided by this run's floors, one bare `python -c pass` and one fork of "
        "a warm process + exit + wait. Read each column with its isolation model below.",
        "",
        "| Figure | " + " | ".join(title for title, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    floors = (_seconds_each(tradewind, "baseline.each"), _seconds_each(tradewind, "baseline.fork"))
    for key in KEYS:
        label = _label(key, [figures for _, figures in columns])
        if label is None:
            continue
        lines.append(
            f"| {label} | "
            + " | ".join(_cell(figures.get(key), floors) for _, figures in columns)
            + " |"
        )
    lines += ["", "Isolation model (how one task is kept from another):", ""]
    lines.append(f"- **Tradewind**: {TRADEWIND_ISOLATION}")
    if airflow is not None:
        lines.append(f"- **Airflow**: {AIRFLOW_ISOLATION}")
    lines += [f"- **{result.variant.title}**: {result.variant.isolation}" for result in peers]
    lines += ["", "Where the peers' timestamps come from:", ""]
    seen: set[str] = set()
    for result in peers:
        peer = result.variant.peer
        if peer.system not in seen:
            seen.add(peer.system)
            lines.append(f"- {peer.timestamps}")
    for result in peers:
        facts = result.facts
        if facts.get("error"):
            lines.append(f"- {result.variant.title} did not run: {facts['error']}")
        for workload, path in sorted((facts.get("logs") or {}).items()):
            lines.append(f"- {result.variant.title} {workload} failed; its log: `{path}`")
    ready = next((r.facts["server_ready_s"] for r in peers if r.facts.get("server_ready_s")), None)
    if ready:
        lines.append(
            "- `prefect server start` until healthy (not part of any figure): "
            + ", ".join(f"{key} {seconds:.1f} s" for key, seconds in sorted(ready.items()))
        )
    lines.append(
        "- Each peer variant runs each workload in its own subprocess (warm-up run(s) first, "
        "then the repetitions)."
    )
    return lines
