"""DAG runs: trigger one, list them, read a run's state and its task instances."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db.models import DagRun, DagVersion, TaskInstance
from tradewind.exceptions import AlreadyExists, DagRunNotFound, ParamValidationError, TradewindError
from tradewind.sdk import timezone
from tradewind.sdk.states import DagRunState, DagRunType
from tradewind.sdk.task_node import KEY_REGEX
from tradewind.services import dags as dag_service


class InvalidRunRequest(TradewindError):
    """The requested run cannot be created."""


@dataclasses.dataclass(frozen=True)
class RunInfoRow:
    dag_id: str
    run_id: str
    state: str
    run_type: str
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    conf: dict[str, Any]
    dag_version_id: int | None

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "run_id": self.run_id, "state": self.state, "run_type": self.run_type,
            "logical_date": iso(self.logical_date), "data_interval_start": iso(self.data_interval_start),
            "data_interval_end": iso(self.data_interval_end), "start_date": iso(self.start_date),
            "end_date": iso(self.end_date),
        }


def _row(run: DagRun) -> RunInfoRow:
    return RunInfoRow(
        dag_id=run.dag_id, run_id=run.run_id, state=run.state, run_type=run.run_type, logical_date=run.logical_date,
        data_interval_start=run.data_interval_start, data_interval_end=run.data_interval_end,
        start_date=run.start_date, end_date=run.end_date, conf=dict(run.conf or {}), dag_version_id=run.dag_version_id,
    )


def trigger(
    session: Session, dag_id: str, *, conf: dict[str, Any] | None = None, run_id: str | None = None,
    logical_date: datetime | None = None, now: datetime, triggered_by: str = "cli",
) -> RunInfoRow:
    """Create a queued manual run, its conf validated against the DAG's params."""
    conf = dict(conf or {})
    row, version, dag = dag_service.latest_dag(session, dag_id)
    try:
        dag.params.resolve(conf)
    except ParamValidationError as exc:
        raise ParamValidationError(f"invalid conf for DAG {dag_id!r}: {exc}") from None
    run_after = timezone.coerce_utc(logical_date) or now
    interval = dag.timetable.infer_manual_data_interval(run_after=run_after)
    logical = timezone.coerce_utc(logical_date) or run_after
    run_id = run_id or DagRunType.MANUAL.generate_run_id(logical.isoformat())
    if not KEY_REGEX.match(run_id) and not run_id.replace(":", "").replace("+", "").replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InvalidRunRequest(f"run_id {run_id!r} contains characters that are not allowed")
    if session.scalar(select(DagRun.id).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)) is not None:
        raise AlreadyExists(f"DAG {dag_id!r} already has a run with run_id {run_id!r}")
    if session.scalar(select(DagRun.id).where(DagRun.dag_id == dag_id, DagRun.logical_date == logical)) is not None:
        raise AlreadyExists(f"DAG {dag_id!r} already has a run at logical date {logical.isoformat()}")
    run = DagRun(
        dag_id=dag_id, run_id=run_id, logical_date=logical, data_interval_start=interval.start,
        data_interval_end=interval.end, run_after=run_after, run_type=DagRunType.MANUAL.value,
        state=DagRunState.QUEUED.value, conf=conf, dag_version_id=version.id, queued_at=now, triggered_by=triggered_by,
    )
    session.add(run)
    session.flush()
    return _row(run)


def list_runs(session: Session, dag_id: str, *, state: str | None = None, limit: int | None = None) -> list[RunInfoRow]:
    dag_service.get_dag_row(session, dag_id)
    query = select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.logical_date.desc(), DagRun.id.desc())
    if state:
        query = query.where(DagRun.state == state)
    if limit:
        query = query.limit(limit)
    return [_row(run) for run in session.scalars(query)]


def get_run(session: Session, dag_id: str, run_id: str) -> DagRun:
    run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if run is None:
        raise DagRunNotFound(f"DAG {dag_id!r} has no run {run_id!r}")
    return run


def run_info(session: Session, dag_id: str, run_id: str) -> RunInfoRow:
    return _row(get_run(session, dag_id, run_id))


def task_instances(session: Session, dag_id: str, run_id: str) -> list[TaskInstance]:
    get_run(session, dag_id, run_id)
    return list(session.scalars(
        select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        .order_by(TaskInstance.id, TaskInstance.map_index)
    ))


def task_key(task_id: str, map_index: int) -> str:
    """The key of a task instance in JSON output: ``task_id`` or ``task_id[i]`` (as in ``dags test``)."""
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def task_states_json(tis: list[TaskInstance]) -> dict[str, dict[str, Any]]:
    return {
        task_key(ti.task_id, ti.map_index): {
            "state": ti.state, "try_number": ti.try_number,
            "duration": round(ti.duration, 6) if ti.duration is not None else None,
        }
        for ti in tis
    }


def version_of(session: Session, run: DagRun) -> DagVersion | None:
    return session.get(DagVersion, run.dag_version_id) if run.dag_version_id else None
