"""DAGs as the metastore knows them: list, details, pause, import errors, next run.

``stored_dags`` and ``parse_folder`` are the two sources of ``tradewind dags list``: the
metastore once the DAG folder has been parsed, else the folder itself, imported in child
processes exactly as the DAG processor does (a file that hangs or crashes cannot take the
command down with it).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from tradewind import serialization
from tradewind.config import Settings
from tradewind.dag_processing import importer
from tradewind.dag_processing.discovery import find_dag_files
from tradewind.dag_processing.file_parsing import parse_files
from tradewind.dag_processing.importer import ImportProblem
from tradewind.db import engine as db_engine
from tradewind.db import migrate as db_migrate
from tradewind.db.models import Dag, DagRun, DagVersion, ParseImportError
from tradewind.exceptions import DagNotFound
from tradewind.scheduler import next_run
from tradewind.sdk.dag import DAG
from tradewind.services import dag_versions


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
        if db_migrate.status(engine).is_empty:
            return None
        db_migrate.check(engine)
        return db_engine.run_in_transaction(
            engine, lambda session: list_dags(session, under=under), readonly=True
        )
    finally:
        engine.dispose()


def _file_info(dag: DAG, fileloc: str) -> DagInfo:
    return DagInfo(
        dag_id=dag.dag_id,
        fileloc=fileloc,
        owners=dag.owner,
        is_paused=None,
        is_active=True,
        schedule=dag.timetable.summary,
        tags=list(dag.tags),
        next_dagrun=None,
        next_dagrun_data_interval_start=None,
        next_dagrun_data_interval_end=None,
        has_import_errors=False,
    )


def parse_folder(settings: Settings, folder: Path) -> tuple[list[DagInfo], list[ImportProblem]]:
    """The DAGs of the files in ``folder`` (or of that one file), by importing them in child
    processes with the DAG processor's time limit; and the problems of the files that failed,
    bounded as stored import errors are."""
    paths = find_dag_files(folder)
    results = parse_files(
        paths,
        timeout=float(settings.get("dag_processor", "file_timeout")),
        parallelism=int(settings.get("dag_processor", "parsing_processes")),
        folder=folder if folder.is_dir() else folder.parent,
        sys_path=[str(folder if folder.is_dir() else folder.parent)],
        defaults=importer.file_defaults_from(settings),
    )
    found: dict[str, DagInfo] = {}
    problems: list[ImportProblem] = []
    for result in sorted(results, key=lambda r: str(r.path)):
        problems.extend(
            dataclasses.replace(
                problem,
                message=importer.cut_line(problem.message),
                traceback=importer.bounded(problem.traceback),
            )
            for problem in result.problems
        )
        for dag_id, serialized in result.dags.items():
            if dag_id in found:
                problems.append(
                    ImportProblem(
                        str(result.path),
                        f"DAG id {dag_id!r} is already defined in {found[dag_id].fileloc}",
                        "",
                        None,
                        dag_id,
                    )
                )
                continue
            found[dag_id] = _file_info(serialization.deserialize_dag(serialized), str(result.path))
    return [found[dag_id] for dag_id in sorted(found)], problems


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
    row, _, dag = latest_dag(session, dag_id)
    was_paused = row.is_paused
    row.is_paused = paused
    if was_paused and not paused:
        next_run.refresh_next_dagrun(session, row, dag, now)
    return _info(row)


def list_import_errors(session: Session, *, limit: int | None = None) -> list[ImportErrorInfo]:
    """Import errors by file name (the first ``limit``), each at most
    ``importer.MAX_STORED_CHARS`` long, also one stored before errors were bounded."""
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
