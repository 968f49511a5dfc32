"""DAGs as the metastore knows them: list, details, pause, import errors, next run."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind import serialization
from tradewind.db.models import Dag, DagRun, DagVersion, ParseImportError
from tradewind.exceptions import DagNotFound
from tradewind.scheduler import next_run
from tradewind.sdk.dag import DAG


@dataclasses.dataclass(frozen=True)
class DagInfo:
    dag_id: str
    fileloc: str | None
    owners: str | None
    is_paused: bool
    is_active: bool
    schedule: str | None
    tags: list[str]
    next_dagrun: datetime | None
    next_dagrun_data_interval_start: datetime | None
    next_dagrun_data_interval_end: datetime | None
    has_import_errors: bool


@dataclasses.dataclass(frozen=True)
class ImportErrorInfo:
    id: int
    filename: str
    timestamp: datetime
    stacktrace: str


def _info(row: Dag) -> DagInfo:
    return DagInfo(
        dag_id=row.dag_id, fileloc=row.fileloc, owners=row.owners, is_paused=row.is_paused, is_active=row.is_active,
        schedule=row.timetable_summary, tags=[tag.name for tag in row.tags], next_dagrun=row.next_dagrun,
        next_dagrun_data_interval_start=row.next_dagrun_data_interval_start,
        next_dagrun_data_interval_end=row.next_dagrun_data_interval_end, has_import_errors=row.has_import_errors,
    )


def count_dags(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Dag)) or 0


def list_dags(session: Session, *, include_inactive: bool = False) -> list[DagInfo]:
    query = select(Dag).order_by(Dag.dag_id)
    if not include_inactive:
        query = query.where(Dag.is_active.is_(True))
    return [_info(row) for row in session.scalars(query)]


def get_dag_row(session: Session, dag_id: str) -> Dag:
    row = session.get(Dag, dag_id)
    if row is None:
        raise DagNotFound(f"DAG {dag_id!r} not found in the metastore (has the DAG folder been parsed?)")
    return row


def latest_dag(session: Session, dag_id: str) -> tuple[Dag, DagVersion, DAG]:
    """The DAG row, its latest version and that version deserialized."""
    row = get_dag_row(session, dag_id)
    if row.latest_version_id is None:
        raise DagNotFound(f"DAG {dag_id!r} has no stored version")
    version = session.get(DagVersion, row.latest_version_id)
    if version is None:
        raise DagNotFound(f"DAG {dag_id!r} has no stored version")
    return row, version, serialization.deserialize_dag(version.serialized_dag)


def set_paused(session: Session, dag_id: str, paused: bool, *, now: datetime) -> DagInfo:
    """Pause or unpause. Unpausing recomputes the next run, so catch-up follows the DAG's catchup."""
    row, _, dag = latest_dag(session, dag_id)
    was_paused = row.is_paused
    row.is_paused = paused
    if was_paused and not paused:
        next_run.refresh_next_dagrun(session, row, dag, now)
    return _info(row)


def list_import_errors(session: Session) -> list[ImportErrorInfo]:
    rows = session.scalars(select(ParseImportError).order_by(ParseImportError.filename))
    return [ImportErrorInfo(row.id, row.filename, row.timestamp, row.stacktrace or "") for row in rows]


def last_run(session: Session, dag_id: str) -> DagRun | None:
    return session.scalar(
        select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.run_after.desc(), DagRun.id.desc()).limit(1)
    )
