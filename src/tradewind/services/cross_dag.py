"""Reading runs across DAGs: what ``TriggerDagRunOperator`` and ``ExternalTaskSensor`` ask the
scheduler for (resetting a run is ``clearing.reset_run``), and a run's task states as ``dags
test`` prints them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind import serialization
from tradewind.db.models import DagRun, TaskInstance
from tradewind.exceptions import DagNotFound, TradewindError
from tradewind.sdk import timezone
from tradewind.sdk.dag import DAG
from tradewind.services import dag_runs
from tradewind.services import dags as dag_service


def find_run(
    session: Session,
    dag_id: str,
    *,
    run_id: str | None = None,
    logical_date: datetime | None = None,
) -> DagRun | None:
    """The run with ``run_id`` (or else the one at ``logical_date``), or None."""
    if run_id is not None:
        found = session.scalar(
            select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        )
        if found is not None or logical_date is None:
            return found
    if logical_date is None:
        return None
    return session.scalar(
        select(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date == logical_date)
    )


def version_dag(session: Session, run: DagRun) -> DAG | None:
    """The DAG as the run's pinned version defines it."""
    version = dag_runs.version_of(session, run)
    return serialization.deserialize_dag(version.serialized_dag) if version is not None else None


def _task_ids_of_group(dag: DAG, group_id: str) -> list[str] | None:
    for group in dag.task_group.iter_groups():
        if group.group_id == group_id:
            return [task.task_id for task in group.iter_tasks()]
    return None


def external_states(
    session: Session,
    dag_id: str,
    logical_dates: Iterable[datetime],
    *,
    task_ids: list[str] | None = None,
    task_group_id: str | None = None,
) -> dict[str, Any]:
    """The runs of ``dag_id`` at ``logical_dates`` and the states of the named tasks (every map
    index) in each: ``{"dag_exists", "missing_task_ids", "runs": [{"logical_date", "run_id",
    "state", "tasks": {task_id: [state, ...]}}]}``. ``missing_task_ids`` lists the asked tasks
    (or the group) that the DAG's latest version does not have."""
    dates = [timezone.coerce_utc(date) for date in logical_dates]
    try:
        _row, _version, dag = dag_service.latest_dag(session, dag_id)
    except DagNotFound:
        return {"dag_exists": False, "missing_task_ids": [], "runs": []}
    missing: list[str] = []
    wanted = list(task_ids) if task_ids else None
    if task_group_id is not None:
        members = _task_ids_of_group(dag, task_group_id)
        if members is None:
            missing.append(task_group_id)
            members = []
        wanted = (wanted or []) + members
    if wanted is not None:
        missing.extend(task_id for task_id in wanted if task_id not in dag.task_dict)
    runs = (
        list(
            session.scalars(
                select(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date.in_(dates))
            )
        )
        if dates
        else []
    )
    states: dict[str, dict[str, list[str | None]]] = {run.run_id: {} for run in runs}
    if wanted and runs:
        rows = session.execute(
            select(TaskInstance.run_id, TaskInstance.task_id, TaskInstance.state)
            .where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id.in_(list(states)),
                TaskInstance.task_id.in_(wanted),
            )
            .order_by(TaskInstance.map_index)
        )
        for found_run_id, task_id, state in rows:
            states[found_run_id].setdefault(task_id, []).append(state)
    return {
        "dag_exists": True,
        "missing_task_ids": missing,
        "runs": [
            {
                "logical_date": run.logical_date.isoformat() if run.logical_date else None,
                "run_id": run.run_id,
                "state": run.state,
                "tasks": states[run.run_id],
            }
            for run in runs
        ],
    }


def run_states_json(session: Session, dag_id: str, run_id: str) -> dict[str, Any]:
    """``{"dag_id", "run_id", "state", "tasks": {key: {"state", "try_number", "duration"}}}``: the
    object ``tradewind dags test -o json`` prints, for a run in the metastore. Keys are
    ``task_id`` or ``task_id[i]``, in dependency order
    then map index, as ``dags test`` lists them."""
    run = dag_runs.get_run(session, dag_id, run_id)
    tis = dag_runs.task_instances(session, dag_id, run_id)
    order: dict[str, int] = {}
    try:
        dag = version_dag(session, run)
        if dag is not None:
            order = {task.task_id: index for index, task in enumerate(dag.topological_sort())}
    except TradewindError:
        order = {}
    tis.sort(
        key=lambda ti: (
            order.get(ti.task_id, len(order)),
            "" if ti.task_id in order else ti.task_id,
            ti.map_index,
        )
    )
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "state": run.state,
        "tasks": dag_runs.task_states_json(tis),
    }
