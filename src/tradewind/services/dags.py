"""DAGs as the metastore knows them: list, details, pause, import errors, next run.

``stored_dags`` and ``dag_files.parse_folder`` are the two sources of ``tradewind dags list``:
the metastore once the DAG folder has been parsed, else the folder itself.

Listing reads rows only, and ``dags list`` imports this module on every call; so the modules
that deserialize a DAG, compute its next run or bound an import error's text are imported by
the functions that use them, not here.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from tradewind.config import Settings
from tradewind.db import engine as db_engine
from tradewind.db import migrate as db_migrate
from tradewind.db.models import Dag, DagRun, DagVersion, ParseImportError
from tradewind.exceptions import DagNotFound

if TYPE_CHECKING:
    from tradewind.sdk.dag import DAG


@dataclasses.dataclass(frozen=True)
class DagInfo:
    dag_id: str
    fileloc: str | None
    owners: str | None
    #: None for a DAG read from its file and not (yet) in the metastore.
    is_paused: bool | None
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
        dag_id=row.dag_id,
        fileloc=row.fileloc,
        owners=row.owners,
        is_paused=row.is_paused,
        is_active=row.is_active,
        schedule=row.timetable_summary,
        tags=[tag.name for tag in row.tags],
        next_dagrun=row.next_dagrun,
        next_dagrun_data_interval_start=row.next_dagrun_data_interval_start,
        next_dagrun_data_interval_end=row.next_dagrun_data_interval_end,
        has_import_errors=row.has_import_errors,
    )


def list_dags(
    session: Session, *, include_inactive: bool = False, under: Path | None = None
) -> list[DagInfo]:
    """DAGs in id order; ``under``: only those whose file is in that folder (or is that file)."""
    query = select(Dag).options(selectinload(Dag.tags)).order_by(Dag.dag_id)
    if not include_inactive:
        query = query.where(Dag.is_active.is_(True))
    if under is not None:
        prefix = str(under).rstrip("/") + "/"
        query = query.where(
            Dag.fileloc.startswith(prefix, autoescape=True) | (Dag.fileloc == str(under))
        )
    return [_info(row) for row in session.scalars(query)]


def stored_dags(settings: Settings, *, under: Path | None = None) -> list[DagInfo] | None:
    """Active DAGs of the metastore (see ``list_dags``); None when it has no tables yet.

    Reads only: a new database is not created or migrated. ``MetastoreError`` when the
    metastore cannot be reached or is at another schema revision.
    """
    engine = db_engine.engine_from_settings(settings)
    try:
        found = db_migrate.status(engine)
        if found.is_empty:
            return None
        db_migrate.require_current(found)
        return db_engine.run_in_transaction(
            engine, lambda session: list_dags(session, under=under), readonly=True
        )
    finally:
        engine.dispose()


def get_dag_row(session: Session, dag_id: str) -> Dag:
    row = session.get(Dag, dag_id)
    if row is None:
        raise DagNotFound(
            f"DAG {dag_id!r} not found in the metastore (has the DAG folder been parsed?)"
        )
    return row


def latest_dag(session: Session, dag_id: str) -> tuple[Dag, DagVersion, DAG]:
    """The DAG row, its latest version and that version deserialized (once per process:
    ``dag_versions``; the DAG is shared, do not change it)."""
    from tradewind.services import dag_versions

    row = get_dag_row(session, dag_id)
    if row.latest_version_id is None:
        raise DagNotFound(f"DAG {dag_id!r} has no stored version")
    version = dag_versions.get_version(session, row.latest_version_id)
    if version is None:
        raise DagNotFound(f"DAG {dag_id!r} has no stored version")
    return row, version, dag_versions.dag_of(version)


def set_paused(session: Session, dag_id: str, paused: bool, *, now: datetime) -> DagInfo:
    """Pause or unpause. Unpausing recomputes the next
    run, so catch-up follows the DAG's catchup."""
    from tradewind.scheduler import next_run

    row, _, dag = latest_dag(session, dag_id)
    was_paused = row.is_paused
    row.is_paused = paused
    if was_paused and not paused:
        next_run.refresh_next_dagrun(session, row, dag, now)
    return _info(row)


def list_import_errors(session: Session, *, limit: int | None = None) -> list[ImportErrorInfo]:
    """Import errors by file name (the first ``limit``), each at most
    ``importer.MAX_STORED_CHARS`` long, also one stored before errors were bounded."""
    from tradewind.dag_processing import importer

    rows = session.scalars(
        select(ParseImportError).order_by(ParseImportError.filename).limit(limit)
    )
    return [
        ImportErrorInfo(row.id, row.filename, row.timestamp, importer.bounded(row.stacktrace or ""))
        for row in rows
    ]


def count_import_errors(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ParseImportError)) or 0


def last_run(session: Session, dag_id: str) -> DagRun | None:
    return session.scalar(
        select(DagRun)
        .where(DagRun.dag_id == dag_id)
        .order_by(DagRun.run_after.desc(), DagRun.id.desc())
        .limit(1)
    )
