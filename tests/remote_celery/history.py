"""The tries of a run as the metastore keeps them: ended tries in ``task_instance_history``,
the current one in ``task_instance``; and what the end-to-end tests check on them."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db.models import TaskInstance, TaskInstanceHistory

#: Python for a DAG file (no braces: it goes through ``str.format``): ``record_pid(folder,
#: ti)`` leaves a file named after the try's process, so the test can end a try that
#: outlived its worker.
RECORD_PID = """
    import os, pathlib

    def record_pid(folder, ti):
        name = "-".join([ti.task_id, str(ti.try_number), str(os.getpid())])
        pathlib.Path(folder, name).touch()
"""


@dataclasses.dataclass(frozen=True)
class TryRow:
    task_id: str
    try_number: int
    state: str | None
    hostname: str | None
    start_date: datetime | None
    end_date: datetime | None


def tries_of_run(session: Session, run_id: str) -> list[TryRow]:
    """Each try once: the history keeps the current try too once it ended."""
    current = list(session.scalars(select(TaskInstance).where(TaskInstance.run_id == run_id)))
    now_at = {(ti.task_id, ti.map_index): ti.try_number for ti in current}
    ended = [
        ti
        for ti in session.scalars(
            select(TaskInstanceHistory).where(TaskInstanceHistory.run_id == run_id)
        )
        if now_at.get((ti.task_id, ti.map_index)) != ti.try_number
    ]
    rows = [
        TryRow(
            ti.task_id,
            ti.try_number,
            ti.state.value if ti.state is not None else None,
            ti.hostname,
            ti.start_date,
            ti.end_date,
        )
        for ti in [*ended, *current]
    ]
    return sorted(rows, key=lambda row: (row.task_id, row.try_number))


def successes_per_task(rows: list[TryRow]) -> Counter[str]:
    """How many tries of each task succeeded (each task appears, with 0 if none did)."""
    counts = Counter({row.task_id: 0 for row in rows})
    counts.update(row.task_id for row in rows if row.state == "success")
    return counts


def most_at_once(rows: list[TryRow]) -> int:
    """The most tries running at the same instant, from their start and end dates."""
    edges: list[tuple[datetime, int]] = []
    for row in rows:
        assert row.start_date is not None and row.end_date is not None, row
        edges += [(row.start_date, 1), (row.end_date, -1)]
    running = peak = 0
    for _at, step in sorted(edges):  # an end sorts before a start at the same instant
        running += step
        peak = max(peak, running)
    return peak
