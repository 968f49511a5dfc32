"""Reading runs across DAGs: what ``TriggerDagRunOperator`` and ``ExternalTaskSensor`` ask the
scheduler for (resetting a run is ``clearing.reset_run``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db.models import DagRun, TaskInstance
from tradewind.exceptions import DagNotFound
from tradewind.sdk import timezone
from tradewind.sdk.dag import DAG
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
