"""Write what the DAG processor found: DAG rows, new dag_versions, import errors.

A dag_version is added only when the serialized DAG or the file's source changed. A file that
fails to import keeps its DAGs as they were (marked ``has_import_errors``): nothing stored is
lost because of a bad edit. DAGs that disappear from a file that imported cleanly, and DAGs of
deleted files, are deactivated.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tradewind import serialization
from tradewind.dag_processing.file_parsing import ParsedFile
from tradewind.dag_processing.importer import ImportProblem
from tradewind.db.models import Dag, DagTag, DagVersion, ParseImportError
from tradewind.db.upsert import upsert
from tradewind.scheduler import next_run
from tradewind.sdk.dag import DAG

log = logging.getLogger("tradewind.dag_processor")


@dataclasses.dataclass
class StoreSummary:
    dags_seen: int = 0
    versions_added: int = 0
    import_errors: int = 0
    deactivated: int = 0

    def add(self, other: StoreSummary) -> None:
        self.dags_seen += other.dags_seen
        self.versions_added += other.versions_added
        self.import_errors += other.import_errors
        self.deactivated += other.deactivated


def version_hash(serialized: str, source: str) -> str:
    return serialization.content_hash(serialized + "\0" + source)


def _format_problems(problems: list[ImportProblem]) -> str:
    parts = []
    for problem in problems:
        text = problem.message
        if problem.traceback and problem.traceback.strip() and problem.traceback.strip() != problem.message:
            text += "\n" + problem.traceback.rstrip()
        parts.append(text)
    return "\n\n".join(parts)


def _sync_tags(session: Session, row: Dag, tags: list[str]) -> None:
    current = {tag.name for tag in row.tags}
    if current == set(tags):
        return
    row.tags = [DagTag(dag_id=row.dag_id, name=name) for name in sorted(set(tags))]


def _store_version(session: Session, dag_id: str, serialized: str, source: str, fileloc: str, now: datetime) -> tuple[DagVersion, bool]:
    digest = version_hash(serialized, source)
    existing = session.scalar(select(DagVersion).where(DagVersion.dag_id == dag_id, DagVersion.content_hash == digest))
    if existing is not None:
        return existing, False
    number = (session.scalar(select(func.max(DagVersion.version_number)).where(DagVersion.dag_id == dag_id)) or 0) + 1
    version = DagVersion(dag_id=dag_id, version_number=number, serialized_dag=serialized, source_code=source,
                         content_hash=digest, fileloc=fileloc, created_at=now)
    session.add(version)
    session.flush()
    return version, True


def store_dag(
    session: Session, dag: DAG, serialized: str, source: str, fileloc: str, *, paused_by_default: bool, now: datetime,
) -> bool:
    """Upsert the DAG row and its latest version; True when a new version was added."""
    row = session.get(Dag, dag.dag_id)
    if row is None:
        paused = dag.is_paused_upon_creation if dag.is_paused_upon_creation is not None else paused_by_default
        row = Dag(dag_id=dag.dag_id, is_paused=paused, is_active=True)
        session.add(row)
        session.flush()
    previous_version_id = row.latest_version_id
    version, added = _store_version(session, dag.dag_id, serialized, source, fileloc, now)
    row.fileloc = fileloc
    row.is_active = True
    row.owners = dag.owner
    row.description = dag.description
    row.timetable_summary = dag.timetable.summary
    row.max_active_runs = dag.max_active_runs
    row.max_active_tasks = dag.max_active_tasks
    row.has_import_errors = False
    row.last_parsed_time = now
    row.latest_version_id = version.id
    _sync_tags(session, row, dag.tags)
    if version.id != previous_version_id or (row.next_dagrun_create_after is None and dag.timetable.can_be_scheduled):
        next_run.refresh_next_dagrun(session, row, dag, now)
    return added


def store_file(session: Session, parsed: ParsedFile, source: str, *, paused_by_default: bool, now: datetime) -> StoreSummary:
    """Apply one parsed file to the metastore."""
    summary = StoreSummary()
    filename = str(parsed.path)
    problems = list(parsed.problems)
    stored_ids: set[str] = set()
    for dag_id, serialized in parsed.dags.items():
        owner = session.scalar(select(Dag.fileloc).where(Dag.dag_id == dag_id, Dag.is_active.is_(True)))
        if owner is not None and owner != filename and _file_exists(owner):
            problems.append(ImportProblem(filename, f"DAG id {dag_id!r} is already defined in {owner}", ""))
            continue
        dag = serialization.deserialize_dag(serialized)
        if store_dag(session, dag, serialized, source, filename, paused_by_default=paused_by_default, now=now):
            summary.versions_added += 1
            log.info("Stored a new version of DAG %s from %s", dag_id, filename)
        stored_ids.add(dag_id)
        summary.dags_seen += 1
    whole_file_failed = bool(parsed.problems) and not parsed.dags
    if problems:
        upsert(session, ParseImportError, {"filename": filename, "stacktrace": _format_problems(problems), "timestamp": now},
               key=["filename"], update=["stacktrace", "timestamp"])
        summary.import_errors += 1
    else:
        session.execute(delete(ParseImportError).where(ParseImportError.filename == filename))
    previous = session.scalars(select(Dag).where(Dag.fileloc == filename, Dag.is_active.is_(True)))
    for row in previous:
        if row.dag_id in stored_ids:
            continue
        if whole_file_failed:
            row.has_import_errors = True
        else:
            row.is_active = False
            summary.deactivated += 1
            log.info("DAG %s is no longer defined in %s: deactivated", row.dag_id, filename)
    return summary


def deactivate_missing_files(session: Session, present: Iterable[str], folder_prefix: str) -> int:
    """Deactivate DAGs (and drop import errors) of files under the folder that no longer exist."""
    present_set = set(present)
    count = 0
    for row in session.scalars(select(Dag).where(Dag.is_active.is_(True), Dag.fileloc.startswith(folder_prefix))):
        if row.fileloc not in present_set:
            row.is_active = False
            count += 1
    for error in session.scalars(select(ParseImportError).where(ParseImportError.filename.startswith(folder_prefix))):
        if error.filename not in present_set:
            session.delete(error)
    return count


def _file_exists(path: str) -> bool:
    return os.path.exists(path)
