"""The grid of a DAG: its last runs by its tasks and groups, each cell a state.

Two queries whatever the history: the page of runs (newest first on the ``(dag_id,
run_after)`` index) and their task instances (``dag_id, run_id IN (...)`` on the unique
index). Mapped tasks show one cell with the number of mapped instances and their summary
state; a group shows the summary state of its tasks.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.api.ui import models_structure
from tradewind.api.ui.models_structure import DagShape, TreeRow
from tradewind.db.models import DagRun, DagVersion, TaskInstance
from tradewind.sdk import timezone

#: Task instance state priority for summaries (Airflow's ``State.state_priority``).
STATE_PRIORITY: tuple[str | None, ...] = (
    "failed",
    "upstream_failed",
    "up_for_retry",
    "up_for_reschedule",
    "queued",
    "scheduled",
    "deferred",
    "running",
    "restarting",
    None,
    "success",
    "skipped",
    "removed",
)
_RANK = {state: rank for rank, state in enumerate(STATE_PRIORITY)}


def summary_state(states: Any) -> str | None:
    """The state a set of task instances shows as one: the most urgent one present."""
    best: str | None = None
    best_rank = len(STATE_PRIORITY)
    for state in states:
        rank = _RANK.get(state, _RANK[None])
        if rank < best_rank:
            best, best_rank = state, rank
    return best


@dataclasses.dataclass(frozen=True)
class GridRun:
    run_id: str
    state: str
    run_type: str
    logical_date: datetime | None
    run_after: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    dag_version_id: int | None
    version_number: int | None
    triggered_by: str | None

    @property
    def duration(self) -> float | None:
        if self.start_date is None:
            return None
        end = self.end_date or timezone.utcnow()
        return (end - self.start_date).total_seconds()


@dataclasses.dataclass(frozen=True)
class GridCell:
    state: str | None
    count: int  # mapped instances; 0 when the task is not mapped (or not expanded yet)
    states: dict[str, int]  # for mapped tasks and groups: how many instances are in each state
    try_number: int


@dataclasses.dataclass(frozen=True)
class Grid:
    dag_id: str
    shape: DagShape
    rows: tuple[TreeRow, ...]
    runs: tuple[GridRun, ...]  # oldest first
    cells: dict[str, dict[str, GridCell]]  # node id -> run id -> cell
    total_runs: int
    offset: int
    limit: int

    @property
    def max_duration(self) -> float:
        return max((run.duration or 0.0 for run in self.runs), default=0.0) or 1.0

    def cell(self, node_id: str, run_id: str) -> GridCell | None:
        return self.cells.get(node_id, {}).get(run_id)


def grid_runs(session: Session, dag_id: str, *, limit: int, offset: int = 0) -> list[GridRun]:
    """A page of runs, newest first in the query, returned oldest first."""
    rows = session.execute(
        select(
            DagRun.run_id,
            DagRun.state,
            DagRun.run_type,
            DagRun.logical_date,
            DagRun.run_after,
            DagRun.data_interval_start,
            DagRun.data_interval_end,
            DagRun.start_date,
            DagRun.end_date,
            DagRun.dag_version_id,
            DagVersion.version_number,
            DagRun.triggered_by,
        )
        .outerjoin(DagVersion, DagVersion.id == DagRun.dag_version_id)
        .where(DagRun.dag_id == dag_id)
        .order_by(DagRun.run_after.desc(), DagRun.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [GridRun(*tuple(row)) for row in reversed(rows)]


def task_cells(session: Session, dag_id: str, run_ids: list[str]) -> dict[str, dict[str, GridCell]]:
    """Cells of every task (not groups) of the given runs."""
    if not run_ids:
        return {}
    per: dict[tuple[str, str], list[tuple[int, str | None, int]]] = defaultdict(list)
    for run_id, task_id, map_index, state, try_number in session.execute(
        select(
            TaskInstance.run_id,
            TaskInstance.task_id,
            TaskInstance.map_index,
            TaskInstance.state,
            TaskInstance.try_number,
        ).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id.in_(run_ids))
    ):
        per[(task_id, run_id)].append((map_index, state, try_number))
    cells: dict[str, dict[str, GridCell]] = defaultdict(dict)
    for (task_id, run_id), instances in per.items():
        mapped = [item for item in instances if item[0] >= 0]
        if mapped:
            states = Counter(state or "none" for _, state, _ in mapped)
            cells[task_id][run_id] = GridCell(
                summary_state(state for _, state, _ in mapped),
                len(mapped),
                dict(states),
                max(t for _, _, t in mapped),
            )
        else:
            _, only_state, try_number = instances[0]
            cells[task_id][run_id] = GridCell(only_state, 0, {}, try_number)
    return cells


def add_group_cells(
    shape: DagShape, cells: dict[str, dict[str, GridCell]], run_ids: list[str]
) -> None:
    for group in shape.groups.values():
        for run_id in run_ids:
            members = [cells[t][run_id] for t in group.task_ids if run_id in cells.get(t, {})]
            if not members:
                continue
            states: Counter[str] = Counter()
            for member in members:
                if member.states:
                    states.update(member.states)
                else:
                    states[member.state or "none"] += 1
            state = summary_state(None if s == "none" else s for s in states)
            cells.setdefault(group.group_id, {})[run_id] = GridCell(state, 0, dict(states), 0)


def grid(session: Session, dag_id: str, *, limit: int = 25, offset: int = 0) -> Grid:
    shape = models_structure.latest_shape(session, dag_id)
    limit = max(1, min(limit, 365))
    offset = max(0, offset)
    runs = grid_runs(session, dag_id, limit=limit, offset=offset)
    run_ids = [run.run_id for run in runs]
    cells = task_cells(session, dag_id, run_ids)
    rows = list(shape.rows)
    # Tasks an older version had and the newest lacks still get a row, after the rest.
    gone = sorted(task_id for task_id in cells if task_id not in shape.tasks)
    rows.extend(TreeRow("task", task_id, task_id, 0, None) for task_id in gone)
    add_group_cells(shape, cells, run_ids)
    total = (
        session.scalar(select(func.count()).select_from(DagRun).where(DagRun.dag_id == dag_id)) or 0
    )
    return Grid(dag_id, shape, tuple(rows), tuple(runs), dict(cells), total, offset, limit)


def grid_json(grid_data: Grid) -> dict[str, Any]:
    """The live part of a grid: run states and cell states, for the page's poller."""
    return {
        "runs": [
            {"run_id": run.run_id, "state": run.state, "duration": run.duration}
            for run in grid_data.runs
        ],
        "cells": {
            node_id: {run_id: [cell.state, cell.count] for run_id, cell in by_run.items()}
            for node_id, by_run in grid_data.cells.items()
        },
    }
