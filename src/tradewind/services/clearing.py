"""Clearing: reset finished task instances so the scheduler runs them again (Airflow's "clear").

A cleared task instance keeps its try number; the scheduler raises it when it queues the next
try, and the finished try stays in ``task_instance_history``. A finished DAG run whose task
instances are cleared goes back to queued, so the scheduler picks it up again.

Queued and running task instances are refused (``ClearConflict``): their process is live, and
clearing it would have two tries of one task instance running at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from tradewind import serialization
from tradewind.db.models import DagRun, DagVersion, TaskInstance
from tradewind.exceptions import TaskNotFound, TradewindError
from tradewind.scheduler import outcomes, run_transitions, transitions
from tradewind.sdk.dag import DAG
from tradewind.sdk.states import TaskInstanceState as TIS
from tradewind.services import dag_runs
from tradewind.services import dags as dag_service

FAILED_STATES = (TIS.FAILED.value, TIS.UPSTREAM_FAILED.value)
_LIVE_STATES = (TIS.QUEUED.value, TIS.RUNNING.value)
_FINISHED_TRY_STATES = {
    TIS.SUCCESS.value,
    TIS.FAILED.value,
    TIS.SKIPPED.value,
    TIS.UP_FOR_RETRY.value,
    TIS.UPSTREAM_FAILED.value,
}


class ClearConflict(TradewindError):
    """Task instances that are queued or running cannot be cleared."""


@dataclasses.dataclass(frozen=True)
class TaskSelector:
    """A task, or one mapped instance of it when ``map_index`` is given."""

    task_id: str
    map_index: int | None = None


@dataclasses.dataclass(frozen=True)
class ClearRequest:
    """Which task instances of one DAG to clear (Airflow's ``clearTaskInstances`` body).

    ``run_id`` limits to one run, widened to earlier (``include_past``) or later
    (``include_future``) runs by logical date. ``start_date``/``end_date`` bound the logical
    date. ``tasks`` (None: every task) grows by upstream/downstream relatives on request.
    """

    run_id: str | None = None
    tasks: Sequence[TaskSelector] | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    only_failed: bool = True
    only_running: bool = False
    include_upstream: bool = False
    include_downstream: bool = False
    include_past: bool = False
    include_future: bool = False
    reset_dag_runs: bool = True


def dag_of_version(version: DagVersion) -> DAG:
    return serialization.deserialize_dag(version.serialized_dag)


def relatives(dag: DAG, task_ids: Iterable[str], *, upstream: bool, downstream: bool) -> set[str]:
    """``task_ids`` with their upstream and/or downstream tasks, transitively."""
    found = set(task_ids)
    for task_id in list(found):
        task = dag.task_dict[task_id]
        if upstream:
            found |= task.get_flat_relative_ids(upstream=True)
        if downstream:
            found |= task.get_flat_relative_ids(upstream=False)
    return found


def select_for_clear(session: Session, dag_id: str, request: ClearRequest) -> list[TaskInstance]:
    """The task instances ``request`` names, in run and task order; nothing is changed."""
    row, version, dag = dag_service.latest_dag(session, dag_id)
    query = (
        select(TaskInstance)
        .join(
            DagRun, (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id)
        )
        .where(TaskInstance.dag_id == dag_id)
    )
    start, end = request.start_date, request.end_date
    if request.run_id is not None:
        run = dag_runs.get_run(session, dag_id, request.run_id)
        if run.dag_version_id is not None and run.dag_version_id != version.id:
            run_version = session.get(DagVersion, run.dag_version_id)
            if run_version is not None:
                dag = dag_of_version(run_version)
        if (request.include_past or request.include_future) and run.logical_date is not None:
            start = None if request.include_past else run.logical_date
            end = None if request.include_future else run.logical_date
        else:
            query = query.where(TaskInstance.run_id == request.run_id)
    if start is not None:
        query = query.where(DagRun.logical_date >= start)
    if end is not None:
        query = query.where(DagRun.logical_date <= end)
    if request.tasks is not None:
        unknown = sorted({t.task_id for t in request.tasks} - set(dag.task_dict))
        if unknown:
            raise TaskNotFound(f"DAG {dag_id!r} has no task {', '.join(map(repr, unknown))}")
        named = {t.task_id for t in request.tasks}
        ids = relatives(
            dag, named, upstream=request.include_upstream, downstream=request.include_downstream
        )
        exact = {(t.task_id, t.map_index) for t in request.tasks if t.map_index is not None}
        whole = {t.task_id for t in request.tasks if t.map_index is None} | (ids - named)
        clauses: list[ColumnElement[bool]] = (
            [TaskInstance.task_id.in_(sorted(whole))] if whole else []
        )
        clauses += [
            (TaskInstance.task_id == task_id) & (TaskInstance.map_index == index)
            for task_id, index in exact
        ]
        if not clauses:
            return []
        condition = clauses[0]
        for clause in clauses[1:]:
            condition = condition | clause
        query = query.where(condition)
    if request.only_failed:
        query = query.where(TaskInstance.state.in_(FAILED_STATES))
    if request.only_running:
        query = query.where(TaskInstance.state == TIS.RUNNING.value)
    query = query.order_by(
        DagRun.logical_date, DagRun.id, TaskInstance.task_id, TaskInstance.map_index
    )
    return list(session.scalars(query))


def clear_task_instances(
    session: Session, tis: Sequence[TaskInstance], *, reset_dag_runs: bool = True, now: datetime
) -> None:
    """Reset ``tis`` for another try; finished runs they belong to go back to queued.

    ``ClearConflict`` (and nothing changed) when any of them is queued or running.
    """
    live = [ti for ti in tis if ti.state in _LIVE_STATES]
    if live:
        names = ", ".join(
            f"{ti.task_id}{'' if ti.map_index < 0 else f'[{ti.map_index}]'} ({ti.run_id}: "
            f"{ti.state})"
            for ti in live[:10]
        )
        raise ClearConflict(
            f"cannot clear task instances that are queued or running: {names}; "
            "wait for them to finish, or mark them failed first"
        )
    for ti in tis:
        if ti.state in _FINISHED_TRY_STATES:
            outcomes.record_history(session, ti)
        transitions.clear(ti)
    if reset_dag_runs:
        keys = sorted({(ti.dag_id, ti.run_id) for ti in tis})
        for dag_id, run_id in keys:
            run_transitions.requeue_run(dag_runs.get_run(session, dag_id, run_id), now)
    session.flush()


def clear(
    session: Session, dag_id: str, request: ClearRequest, *, dry_run: bool, now: datetime
) -> list[TaskInstance]:
    """Clear what ``request`` names (or only list it, with ``dry_run``); returns those instances."""
    tis = select_for_clear(session, dag_id, request)
    if not dry_run:
        clear_task_instances(session, tis, reset_dag_runs=request.reset_dag_runs, now=now)
    return tis


def clear_run(
    session: Session, dag_id: str, run_id: str, *, only_failed: bool, dry_run: bool, now: datetime
) -> list[TaskInstance]:
    """Clear every task instance of one run (only failed ones with ``only_failed``)."""
    dag_runs.get_run(session, dag_id, run_id)
    return clear(
        session,
        dag_id,
        ClearRequest(run_id=run_id, only_failed=only_failed),
        dry_run=dry_run,
        now=now,
    )


def reset_run(session: Session, dag_id: str, run_id: str, *, now: datetime) -> DagRun:
    """Clear every task instance of a run and queue it again (``TriggerDagRunOperator``'s
    ``reset_dag_run=True``). ``ClearConflict`` while some of them are queued or running."""
    clear_run(session, dag_id, run_id, only_failed=False, dry_run=False, now=now)
    return dag_runs.get_run(session, dag_id, run_id)
