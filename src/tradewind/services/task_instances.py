"""Task instances for people: find them, read their tries, mark their state, add notes.

``describe`` bundles a task instance with its run and DAG version, which every view of it
needs. ``set_state`` is Airflow's "mark success/failed/skipped": it can widen to upstream and
downstream tasks and to past and future runs, and clears downstream instances that failed
because of the marked ones so the run can continue.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from tradewind.db import key_match
from tradewind.db.models import DagRun, DagVersion, TaskInstance, TaskInstanceHistory
from tradewind.exceptions import InvalidStateTransition, TaskNotFound, TradewindError
from tradewind.scheduler import transitions
from tradewind.sdk.states import TaskInstanceState as TIS
from tradewind.services import clearing, dag_metadata, dag_runs, input_limits, paging
from tradewind.services import dags as dag_service

MARKABLE_STATES = (TIS.SUCCESS.value, TIS.FAILED.value, TIS.SKIPPED.value)
#: The try whose instance is in one of these states is not over yet: its log may still grow.
UNFINISHED_TRY_STATES = frozenset(
    {
        TIS.QUEUED.value,
        TIS.RUNNING.value,
        TIS.UP_FOR_RESCHEDULE.value,
        TIS.DEFERRED.value,
        TIS.RESTARTING.value,
    }
)
_NO_STATE = {"none", "no_status", "null"}

AnyTry = TaskInstance | TaskInstanceHistory


class TaskInstanceNotFound(TradewindError):
    """No such task instance (or try)."""


class StateUnchanged(TradewindError):
    """Every task instance named is in the requested state already."""


@dataclasses.dataclass(frozen=True)
class TaskInstanceView:
    """A task instance (or one finished try) with its run and the DAG version it ran with."""

    ti: AnyTry
    run: DagRun
    version: DagVersion | None
    summary: dag_metadata.VersionSummary | None

    @property
    def dag_display_name(self) -> str:
        return self.summary.display_name if self.summary is not None else self.ti.dag_id

    @property
    def task_display_name(self) -> str:
        return (
            self.summary.task_display_name(self.ti.task_id)
            if self.summary is not None
            else self.ti.task_id
        )

    @property
    def operator_name(self) -> str | None:
        if self.summary is not None and self.ti.task_id in self.summary.tasks:
            return self.summary.tasks[self.ti.task_id].operator_name or self.ti.operator
        return self.ti.operator


@dataclasses.dataclass(frozen=True)
class TaskInstanceFilter:
    """What ``list_page`` returns; None (or an empty Range) means no restriction."""

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    task_ids: Sequence[str] | None = None
    dag_id_pattern: str | None = None
    run_id_pattern: str | None = None
    task_id_pattern: str | None = None
    states: Sequence[str] | None = None
    pools: Sequence[str] | None = None
    queues: Sequence[str] | None = None
    operators: Sequence[str] | None = None
    try_numbers: Sequence[int] | None = None
    map_indexes: Sequence[int] | None = None
    version_numbers: Sequence[int] | None = None
    only_mapped: bool = False
    run_after: paging.Range = paging.Range()
    logical_date: paging.Range = paging.Range()
    start_date: paging.Range = paging.Range()
    end_date: paging.Range = paging.Range()
    updated_at: paging.Range = paging.Range()
    duration_gte: float | None = None
    duration_gt: float | None = None
    duration_lte: float | None = None
    duration_lt: float | None = None


ORDER_COLUMNS: Mapping[str, Any] = {
    "id": TaskInstance.id,
    "state": TaskInstance.state,
    "duration": TaskInstance.duration,
    "start_date": TaskInstance.start_date,
    "end_date": TaskInstance.end_date,
    "map_index": TaskInstance.map_index,
    "try_number": TaskInstance.try_number,
    "logical_date": DagRun.logical_date,
    "run_after": DagRun.run_after,
    "data_interval_start": DagRun.data_interval_start,
    "data_interval_end": DagRun.data_interval_end,
    "rendered_map_index": TaskInstance.map_index,
    "operator": TaskInstance.operator,
    "task_id": TaskInstance.task_id,
    "dag_id": TaskInstance.dag_id,
    "run_id": TaskInstance.run_id,
    "dag_run_id": TaskInstance.run_id,
    "pool": TaskInstance.pool,
    "queue": TaskInstance.queue,
    "priority_weight": TaskInstance.priority_weight,
    "queued_dttm": TaskInstance.queued_dttm,
    "updated_at": TaskInstance.updated_at,
}

_JOIN_RUN = and_(DagRun.dag_id == TaskInstance.dag_id, DagRun.run_id == TaskInstance.run_id)


def _state_clause(column: Any, states: Sequence[str]) -> Any:
    wanted = [state for state in states if state.lower() not in _NO_STATE]
    clauses = [column.in_(wanted)] if wanted else []
    if len(wanted) != len(states):
        clauses.append(column.is_(None))
    return or_(*clauses)


def list_page(
    session: Session,
    where: TaskInstanceFilter,
    *,
    order_by: str | Sequence[str] | None,
    page: paging.Page,
) -> tuple[list[TaskInstanceView], int]:
    """One page of task instances (by map index unless
    ``order_by`` says otherwise) and the total."""
    if where.dag_id is not None and where.run_id is not None:
        dag_runs.get_run(session, where.dag_id, where.run_id)
    elif where.dag_id is not None:
        dag_service.get_dag_row(session, where.dag_id)
    ti = TaskInstance
    clauses: list[Any] = [
        ti.dag_id == where.dag_id if where.dag_id is not None else None,
        ti.run_id == where.run_id if where.run_id is not None else None,
        ti.task_id == where.task_id if where.task_id is not None else None,
        ti.task_id.in_(list(where.task_ids)) if where.task_ids else None,
        paging.pattern(ti.dag_id, where.dag_id_pattern),
        paging.pattern(ti.run_id, where.run_id_pattern),
        paging.pattern(ti.task_id, where.task_id_pattern),
        _state_clause(ti.state, where.states) if where.states else None,
        ti.pool.in_(list(where.pools)) if where.pools else None,
        ti.queue.in_(list(where.queues)) if where.queues else None,
        ti.operator.in_(list(where.operators)) if where.operators else None,
        ti.try_number.in_(list(where.try_numbers)) if where.try_numbers else None,
        ti.map_index.in_(list(where.map_indexes)) if where.map_indexes else None,
        ti.map_index >= 0 if where.only_mapped else None,
        ti.duration >= where.duration_gte if where.duration_gte is not None else None,
        ti.duration > where.duration_gt if where.duration_gt is not None else None,
        ti.duration <= where.duration_lte if where.duration_lte is not None else None,
        ti.duration < where.duration_lt if where.duration_lt is not None else None,
    ]
    if where.version_numbers:
        clauses.append(
            ti.dag_version_id.in_(
                select(DagVersion.id).where(
                    DagVersion.version_number.in_(list(where.version_numbers))
                )
            )
        )
    run_clauses = [
        *where.run_after.clauses(DagRun.run_after),
        *where.logical_date.clauses(DagRun.logical_date),
    ]
    for range_, column in (
        (where.start_date, ti.start_date),
        (where.end_date, ti.end_date),
        (where.updated_at, ti.updated_at),
    ):
        clauses.extend(range_.clauses(column))
    query = paging.where_all(
        select(TaskInstance, DagRun).join(DagRun, _JOIN_RUN), [*clauses, *run_clauses]
    )
    # Every task instance has its run (the foreign key): unless the run filters, the total is
    # counted on task_instance alone, which on a long history costs a fraction of the join.
    counted = None if run_clauses else paging.where_all(select(TaskInstance.id), clauses)
    order = paging.order_clauses(
        order_by, ORDER_COLUMNS, default=["map_index"], tie_breaker=TaskInstance.id
    )
    rows, total = paging.paginate(session, query, order, page, whole_rows=True, counted=counted)
    return _views(session, rows), total


def _views(session: Session, rows: Sequence[tuple[AnyTry, DagRun]]) -> list[TaskInstanceView]:
    versions = dag_metadata.versions_by_id(session, (row[0].dag_version_id for row in rows))
    views = []
    for ti, run in rows:
        version = versions.get(ti.dag_version_id) if ti.dag_version_id is not None else None
        views.append(
            TaskInstanceView(
                ti, run, version, dag_metadata.version_summary(version) if version else None
            )
        )
    return views


def describe(session: Session, tis: Sequence[AnyTry]) -> list[TaskInstanceView]:
    """Views of ``tis`` (runs and versions loaded in bulk), in the same order."""
    runs: dict[tuple[str, str], DagRun] = {}
    for chunk in key_match.chunks((ti.dag_id, ti.run_id) for ti in tis):
        for run in session.scalars(
            select(DagRun).where(key_match.keys_in((DagRun.dag_id, DagRun.run_id), chunk))
        ):
            runs[(run.dag_id, run.run_id)] = run
    return _views(session, [(ti, runs[(ti.dag_id, ti.run_id)]) for ti in tis])


def get(
    session: Session, dag_id: str, run_id: str, task_id: str, map_index: int = -1
) -> TaskInstance:
    dag_runs.get_run(session, dag_id, run_id)
    ti = session.scalar(
        select(TaskInstance).where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == task_id,
            TaskInstance.map_index == map_index,
        )
    )
    if ti is None:
        raise TaskInstanceNotFound(
            f"The Task Instance with dag_id: `{dag_id}`, run_id: `{run_id}`, task_id: `{task_id}` "
            f"and map_index: `{map_index}` was not found"
        )
    return ti


def of_task(
    session: Session, dag_id: str, run_id: str, task_id: str, map_index: int | None = None
) -> list[TaskInstance]:
    """The instances of a task in a run (every map index, or just ``map_index``); never empty."""
    dag_runs.get_run(session, dag_id, run_id)
    query = select(TaskInstance).where(
        TaskInstance.dag_id == dag_id,
        TaskInstance.run_id == run_id,
        TaskInstance.task_id == task_id,
    )
    if map_index is not None:
        query = query.where(TaskInstance.map_index == map_index)
    found = list(session.scalars(query.order_by(TaskInstance.map_index)))
    if not found:
        raise TaskInstanceNotFound(
            f"Task instance not found for task {task_id!r} on DAG run with ID {run_id!r}"
            + (f" and map_index {map_index}" if map_index is not None else "")
        )
    return found


def tries(
    session: Session, dag_id: str, run_id: str, task_id: str, map_index: int = -1
) -> list[AnyTry]:
    """Every try of a task instance, oldest first:
    finished tries from history, then the current one."""
    current = get(session, dag_id, run_id, task_id, map_index)
    history = list(
        session.scalars(
            select(TaskInstanceHistory)
            .where(
                TaskInstanceHistory.dag_id == dag_id,
                TaskInstanceHistory.run_id == run_id,
                TaskInstanceHistory.task_id == task_id,
                TaskInstanceHistory.map_index == map_index,
                TaskInstanceHistory.try_number != current.try_number,
            )
            .order_by(TaskInstanceHistory.try_number)
        )
    )
    return [*history, current]


def get_try(
    session: Session, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1
) -> AnyTry:
    """One try: the current instance if it is that try, else its history row."""
    current = get(session, dag_id, run_id, task_id, map_index)
    if current.try_number == try_number:
        return current
    found = session.scalar(
        select(TaskInstanceHistory).where(
            TaskInstanceHistory.dag_id == dag_id,
            TaskInstanceHistory.run_id == run_id,
            TaskInstanceHistory.task_id == task_id,
            TaskInstanceHistory.map_index == map_index,
            TaskInstanceHistory.try_number == try_number,
        )
    )
    if found is None:
        raise TaskInstanceNotFound(
            f"The Task Instance with dag_id: `{dag_id}`, run_id: `{run_id}`, task_id: `{task_id}`, "
            f"try_number: `{try_number}` and map_index: `{map_index}` was not found"
        )
    return found


def try_is_over(ti: TaskInstance, try_number: int) -> bool:
    """Whether try ``try_number`` of this instance has ended (so its log is complete)."""
    return not (ti.try_number == try_number and ti.state in UNFINISHED_TRY_STATES)


def set_state(
    session: Session,
    dag_id: str,
    run_id: str,
    task_id: str,
    new_state: str,
    *,
    map_index: int | None = None,
    upstream: bool = False,
    downstream: bool = False,
    past: bool = False,
    future: bool = False,
    dry_run: bool = False,
    now: datetime,
) -> list[TaskInstance]:
    """Mark a task's instances (and the relatives asked for) success, failed or skipped.

    Returns the instances that change; ``StateUnchanged`` when none would. Unless
    ``dry_run``, downstream instances that are failed or upstream_failed are then cleared so
    the scheduler can run them again, as Airflow does.
    """
    if new_state not in MARKABLE_STATES:
        raise InvalidStateTransition(
            f"cannot set a task instance to {new_state!r}: expected one of "
            f"{', '.join(MARKABLE_STATES)}"
        )
    run = dag_runs.get_run(session, dag_id, run_id)
    version = session.get(DagVersion, run.dag_version_id) if run.dag_version_id else None
    dag = (
        clearing.dag_of_version(version)
        if version is not None
        else dag_service.latest_dag(session, dag_id)[2]
    )
    if task_id not in dag.task_dict:
        raise TaskNotFound(f"Task {task_id!r} not found in DAG {dag_id!r}")
    task_ids = clearing.relatives(dag, [task_id], upstream=upstream, downstream=downstream)
    run_ids = [run_id]
    if (past or future) and run.logical_date is not None:
        query = select(DagRun.run_id).where(DagRun.dag_id == dag_id)
        if not past:
            query = query.where(DagRun.logical_date >= run.logical_date)
        if not future:
            query = query.where(DagRun.logical_date <= run.logical_date)
        run_ids = list(session.scalars(query))
    condition = TaskInstance.task_id.in_(sorted(task_ids - {task_id}))
    own = TaskInstance.task_id == task_id
    if map_index is not None:
        own = own & (TaskInstance.map_index == map_index)
    tis = list(
        session.scalars(
            select(TaskInstance)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id.in_(run_ids))
            .where(or_(own, condition))
            .where(or_(TaskInstance.state.is_(None), TaskInstance.state != new_state))
            .order_by(TaskInstance.run_id, TaskInstance.task_id, TaskInstance.map_index)
        )
    )
    if not tis:
        exists = session.scalar(
            select(TaskInstance.id).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, own
            )
        )
        if exists is None:
            raise TaskInstanceNotFound(
                f"Task instance not found for task {task_id!r} on DAG run with ID {run_id!r}"
                + (f" and map_index {map_index}" if map_index is not None else "")
            )
        raise StateUnchanged(f"Task id {task_id} is already in {new_state} state")
    if dry_run:
        return tis
    for ti in tis:
        transitions.mark(ti, TIS(new_state), now)
    session.flush()
    _clear_failed_downstream(session, dag, tis, now=now)
    return tis


def _clear_failed_downstream(
    session: Session, dag: Any, marked: Sequence[TaskInstance], *, now: datetime
) -> None:
    marked_ids = {ti.id for ti in marked}
    by_run: dict[str, set[str]] = {}
    for ti in marked:
        by_run.setdefault(ti.run_id, set()).update(
            dag.task_dict[ti.task_id].get_flat_relative_ids(upstream=False)
            if ti.task_id in dag.task_dict
            else set()
        )
    to_clear: list[TaskInstance] = []
    for run_id, downstream in by_run.items():
        if not downstream:
            continue
        to_clear.extend(
            ti
            for ti in session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == marked[0].dag_id,
                    TaskInstance.run_id == run_id,
                    TaskInstance.task_id.in_(sorted(downstream)),
                    TaskInstance.state.in_(clearing.FAILED_STATES),
                )
            )
            if ti.id not in marked_ids
        )
    if to_clear:
        clearing.clear_task_instances(session, to_clear, now=now)


def set_notes(tis: Sequence[TaskInstance], note: str | None) -> None:
    """Give each of ``tis`` the note (Airflow's note on a task instance: what a user says of
    it), or remove it with None; a note over the limit changes nothing."""
    input_limits.check_note(note)
    for ti in tis:
        ti.note = note
