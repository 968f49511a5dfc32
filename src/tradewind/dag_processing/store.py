"""Write what the DAG processor found: DAG rows, new dag_versions, import errors.

A dag_version is added only when the serialized DAG, the file's source or its bundle (the
files it imports within the DAG folder, stored once per hash in ``dag_bundle``) changed; going back
to an earlier content points the DAG at that earlier version again. A file that fails to
import keeps its DAGs as they were (marked ``has_import_errors``), and so does a DAG that
fails validation in a file whose other DAGs load: nothing stored is lost because of a bad
edit. DAGs that disappear from a file that imported, and DAGs of deleted files, are
deactivated.

A DAG id belongs to one file. When a second file defines it too, the file that already owns
it (its active row's ``fileloc``) keeps it and the second file gets an import error; between
two new files, the first in path order wins, so the outcome does not depend on which child
finished first.

The work for a whole batch of files is done with a few set-based queries (rows, versions,
version numbers), not a handful per DAG; a DAG whose content did not change is not even
deserialized.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session, selectinload

from tradewind import serialization
from tradewind.dag_processing import importer
from tradewind.dag_processing.file_parsing import ParsedFile
from tradewind.dag_processing.importer import ImportProblem
from tradewind.db.base import ID_LEN
from tradewind.db.models import Dag, DagBundle, DagTag, DagVersion, ParseImportError
from tradewind.db.upsert import upsert
from tradewind.scheduler import next_run
from tradewind.sdk.dag import DAG

log = logging.getLogger("tradewind.dag_processor")

#: Most values in one ``IN (...)``: well under SQLite's and PostgreSQL's parameter limits.
_CHUNK = 500

T = TypeVar("T")


@dataclasses.dataclass
class StoreSummary:
    dags_seen: int = 0
    versions_added: int = 0
    import_errors: int = 0
    deactivated: int = 0
    #: ``(filename, first line of the error)`` of each file stored with an import error.
    errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    #: Files that define a DAG id another file owns; worth parsing again once that changes.
    conflicted: set[str] = dataclasses.field(default_factory=set)
    #: The DAG ids each file stored (its rows now point at it), by file name.
    stored_by_file: dict[str, set[str]] = dataclasses.field(default_factory=dict)

    def add(self, other: StoreSummary) -> None:
        self.dags_seen += other.dags_seen
        self.versions_added += other.versions_added
        self.import_errors += other.import_errors
        self.deactivated += other.deactivated
        self.errors.extend(other.errors)
        self.conflicted |= other.conflicted
        for filename, dag_ids in other.stored_by_file.items():
            self.stored_by_file.setdefault(filename, set()).update(dag_ids)


def version_hash(serialized: str, source: str, bundle_hash: str | None = None) -> str:
    """A version's identity. A bundle's hash takes part: a changed helper module or template
    changes what the tries run, so it makes a new version, as an edit of the DAG file does."""
    text = serialized + "\0" + source
    if bundle_hash is not None:
        text += "\0" + bundle_hash
    return serialization.content_hash(text)


def _store_bundles(session: Session, parsed: Iterable[ParsedFile], now: datetime) -> None:
    """Insert the bundles of the batch that are not stored yet (one row per hash)."""
    found = {result.bundle.hash: result.bundle for result in parsed if result.bundle is not None}
    stored: set[str] = set()
    for condition in _in(DagBundle.hash, found):
        stored.update(session.scalars(select(DagBundle.hash).where(condition)))
    for digest in sorted(set(found) - stored):
        content = found[digest].content
        # An upsert: another processor may store the same files at the same moment.
        upsert(
            session,
            DagBundle,
            {"hash": digest, "content": content, "size": len(content), "created_at": now},
            key=["hash"],
            update=["size"],
        )


def _format_problems(problems: list[ImportProblem]) -> str:
    """The stored text of a file's import error, bounded (``importer.bounded``)."""
    parts = []
    for problem in problems:
        text = problem.message
        if (
            problem.traceback
            and problem.traceback.strip()
            and problem.traceback.strip() != problem.message
        ):
            text += "\n" + problem.traceback.rstrip()
        parts.append(text)
    return importer.bounded("\n\n".join(parts))


def _fit(value: str | None, column: Any) -> str | None:
    """A display value derived from the DAG (its owners, its schedule's summary) cut to what
    its column holds: a DAG of 400 tasks with 400 owners must not fail the whole batch."""
    length = column.type.length
    return importer.cut_line(value, length) if value is not None and length else value


def _definition_line(serialized: str) -> int | None:
    try:
        line = json.loads(serialized).get("definition_line")
    except (ValueError, AttributeError):
        return None
    return line if isinstance(line, int) else None


def _chunks(values: Iterable[T]) -> Iterable[list[T]]:
    items = list(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _in(column: Any, values: Iterable[Any]) -> list[ColumnElement[bool]]:
    return [column.in_(chunk) for chunk in _chunks(sorted(set(values)))]


def _sync_tags(row: Dag, tags: list[str]) -> None:
    if {tag.name for tag in row.tags} == set(tags):
        return
    row.tags = [DagTag(dag_id=row.dag_id, name=name) for name in sorted(set(tags))]


def _update_row(
    session: Session, row: Dag, dag: DAG, version_id: int, fileloc: str, now: datetime
) -> None:
    previous_version_id = row.latest_version_id
    row.fileloc = fileloc
    row.is_active = True
    row.owners = _fit(dag.owner, Dag.__table__.c.owners)
    row.description = dag.description
    row.timetable_summary = _fit(dag.timetable.summary, Dag.__table__.c.timetable_summary)
    row.max_active_runs = dag.max_active_runs
    row.max_active_tasks = dag.max_active_tasks
    row.has_import_errors = False
    row.last_parsed_time = now
    row.latest_version_id = version_id
    _sync_tags(row, dag.tags)
    if version_id != previous_version_id or (
        row.next_dagrun_create_after is None and dag.timetable.can_be_scheduled
    ):
        next_run.refresh_next_dagrun(session, row, dag, now)


def store_dag(
    session: Session,
    dag: DAG,
    serialized: str,
    source: str,
    fileloc: str,
    *,
    paused_by_default: bool,
    now: datetime,
) -> bool:
    """Upsert one DAG's row and latest version; True when a new version was added.

    Only this DAG is touched: the file's other DAGs and its import error are left alone.
    """
    parsed = ParsedFile(Path(fileloc), {dag.dag_id: serialized}, [])
    summary = store_files(
        session,
        [parsed],
        {parsed.path: source},
        paused_by_default=paused_by_default,
        now=now,
        complete=False,
    )
    return summary.versions_added > 0


@dataclasses.dataclass
class _Batch:
    """What is already stored about the DAGs and files of one batch."""

    rows: dict[str, Dag]
    of_file: dict[str, list[Dag]]
    versions: dict[tuple[str, str], int]

    @classmethod
    def load(cls, session: Session, dag_ids: set[str], filenames: set[str]) -> _Batch:
        rows: dict[str, Dag] = {}
        of_file: dict[str, list[Dag]] = {}
        for condition in _in(Dag.dag_id, dag_ids) + _in(Dag.fileloc, filenames):
            for row in session.scalars(
                select(Dag).where(condition).options(selectinload(Dag.tags))
            ):
                rows[row.dag_id] = row
        for row in rows.values():
            if row.is_active and row.fileloc in filenames:
                of_file.setdefault(row.fileloc, []).append(row)
        return cls(rows, of_file, {})

    def load_versions(self, session: Session, wanted: set[tuple[str, str]]) -> None:
        hashes = {digest for _, digest in wanted}
        for ids in _chunks(sorted({dag_id for dag_id, _ in wanted})):
            for condition in _in(DagVersion.content_hash, hashes):
                query = select(DagVersion.id, DagVersion.dag_id, DagVersion.content_hash).where(
                    DagVersion.dag_id.in_(ids), condition
                )
                for version_id, dag_id, digest in session.execute(query):
                    if (dag_id, digest) in wanted:
                        self.versions[(dag_id, digest)] = version_id


def _owners(
    parsed: Sequence[ParsedFile], batch: _Batch, is_live: Callable[[str], bool]
) -> dict[str, str | None]:
    """For each DAG id of the batch, the file that gets to store it (None: a file outside it)."""
    by_name = {str(result.path): result for result in parsed}
    defined_in: dict[str, list[str]] = {}
    for result in parsed:  # in path order
        for dag_id in result.dags:
            defined_in.setdefault(dag_id, []).append(str(result.path))
    owners: dict[str, str | None] = {}
    for dag_id, candidates in defined_in.items():
        row = batch.rows.get(dag_id)
        owner = row.fileloc if row is not None and row.is_active else None
        if owner is None or owner in candidates:
            owners[dag_id] = owner or candidates[0]
        elif owner in by_name:  # parsed in this batch and no longer defines it ...
            failed = by_name[owner].problems and not by_name[owner].dags
            owners[dag_id] = None if failed else candidates[0]  # ... unless it failed to import
        else:
            owners[dag_id] = None if is_live(owner) else candidates[0]
    return owners


_Entry = tuple[ParsedFile, str, str, str]  # (file, dag_id, serialized, digest)


def _needs_update(batch: _Batch, dag_id: str, digest: str, filename: str) -> bool:
    """Whether the DAG's row changes (and so its serialized form must be read)."""
    row, version_id = batch.rows.get(dag_id), batch.versions.get((dag_id, digest))
    return not (
        row is not None
        and version_id is not None
        and row.latest_version_id == version_id
        and row.fileloc == filename
        and row.is_active
        and row.next_dagrun_create_after is not None
    )


def _readable(
    to_store: list[_Entry],
    batch: _Batch,
    problems: dict[str, list[ImportProblem]],
) -> tuple[list[_Entry], dict[str, DAG]]:
    """Deserialize the DAGs whose rows change. One that cannot be read back (a file changed
    a DAG after it was validated) becomes a problem of its file instead of failing the batch."""
    kept: list[_Entry] = []
    deserialized: dict[str, DAG] = {}
    for entry in to_store:
        result, dag_id, serialized, digest = entry
        filename = str(result.path)
        if _needs_update(batch, dag_id, digest, filename):
            try:
                deserialized[dag_id] = serialization.deserialize_dag(serialized)
            except serialization.SerializationError as exc:
                line = _definition_line(serialized)
                problems[filename].append(
                    ImportProblem(
                        filename,
                        importer.cut_line(f"DAG {dag_id!r} cannot be stored: {exc}"),
                        "",
                        line,
                        dag_id,
                    )
                )
                continue
        kept.append(entry)
    return kept, deserialized


def store_files(
    session: Session,
    parsed: Sequence[ParsedFile],
    sources: Mapping[Path, str],
    *,
    paused_by_default: bool,
    now: datetime,
    is_live: Callable[[str], bool] = os.path.exists,
    complete: bool = True,
) -> StoreSummary:
    """Apply a batch of parsed files to the metastore.

    ``sources`` holds each file's text. ``is_live(fileloc)`` tells whether a file outside the
    batch still counts (exists and is part of the DAG folder), for DAG ids defined twice.
    ``complete=False`` stores the DAGs given and nothing else: other DAGs of the files are not
    deactivated and their import errors are left as they are.
    """
    parsed = sorted(parsed, key=lambda result: str(result.path))
    summary = StoreSummary()
    filenames = {str(result.path) for result in parsed}
    batch = _Batch.load(session, {dag_id for result in parsed for dag_id in result.dags}, filenames)
    owners = _owners(parsed, batch, is_live)

    to_store: list[_Entry] = []
    problems: dict[str, list[ImportProblem]] = {}
    for result in parsed:
        filename = str(result.path)
        problems[filename] = list(result.problems)
        for dag_id, serialized in result.dags.items():
            if len(dag_id) > ID_LEN:  # the DAG validates its id; a file can change it after
                problems[filename].append(
                    ImportProblem(
                        filename,
                        f"DAG id of {len(dag_id)} characters is longer than the {ID_LEN} allowed: "
                        f"{importer.cut_line(repr(dag_id), 60)}",
                        "",
                        None,
                        None,
                    )
                )
                continue
            owner = owners[dag_id]
            if owner != filename:
                where = owner if owner is not None else batch.rows[dag_id].fileloc
                line = _definition_line(serialized)
                at = f" ({result.path.name}, line {line})" if line else ""
                problems[filename].append(
                    ImportProblem(
                        filename,
                        f"DAG id {dag_id!r} is already defined in {where}{at}",
                        "",
                        line,
                        dag_id,
                    )
                )
                summary.conflicted.add(filename)
                continue
            bundle_hash = result.bundle.hash if result.bundle is not None else None
            to_store.append(
                (
                    result,
                    dag_id,
                    serialized,
                    version_hash(serialized, sources[result.path], bundle_hash),
                )
            )
    batch.load_versions(session, {(dag_id, digest) for _, dag_id, _, digest in to_store})
    to_store, deserialized = _readable(to_store, batch, problems)

    # New DAG rows first, then new versions, then the rows point at their versions: three
    # flushes for the whole batch, in the order the foreign keys need.
    for _, dag_id, _serialized, _ in to_store:
        if dag_id not in batch.rows:
            dag = deserialized[dag_id]
            paused = (
                dag.is_paused_upon_creation
                if dag.is_paused_upon_creation is not None
                else paused_by_default
            )
            batch.rows[dag_id] = Dag(dag_id=dag_id, is_paused=paused, is_active=True, tags=[])
            session.add(batch.rows[dag_id])
    session.flush()
    new_ids = sorted(
        {dag_id for _, dag_id, _, digest in to_store if (dag_id, digest) not in batch.versions}
    )
    numbers: dict[str, int] = {}
    for chunk in _chunks(new_ids):
        query = (
            select(DagVersion.dag_id, func.max(DagVersion.version_number))
            .where(DagVersion.dag_id.in_(chunk))
            .group_by(DagVersion.dag_id)
        )
        numbers.update({dag_id: number or 0 for dag_id, number in session.execute(query)})
    added: dict[str, DagVersion] = {}
    for result, dag_id, serialized, digest in to_store:
        if (dag_id, digest) in batch.versions:
            continue
        added[dag_id] = DagVersion(
            dag_id=dag_id,
            version_number=numbers.get(dag_id, 0) + 1,
            serialized_dag=serialized,
            source_code=sources[result.path],
            content_hash=digest,
            fileloc=str(result.path),
            bundle_hash=result.bundle.hash if result.bundle is not None else None,
            created_at=now,
        )
        session.add(added[dag_id])
    if added:
        _store_bundles(session, [entry[0] for entry in to_store], now)
    session.flush()
    for dag_id, version in added.items():
        batch.versions[(dag_id, version.content_hash)] = version.id
        summary.versions_added += 1
        log.info(
            "Stored version %d of DAG %s from %s", version.version_number, dag_id, version.fileloc
        )

    stored: set[str] = set()
    for result, dag_id, _serialized, digest in to_store:
        row, version_id, filename = (
            batch.rows[dag_id],
            batch.versions[(dag_id, digest)],
            str(result.path),
        )
        stored.add(dag_id)
        summary.stored_by_file.setdefault(filename, set()).add(dag_id)
        summary.dags_seen += 1
        if not _needs_update(batch, dag_id, digest, filename):
            row.has_import_errors = False
            row.last_parsed_time = now
            continue
        _update_row(session, row, deserialized[dag_id], version_id, filename, now)

    if not complete:
        return summary
    for result in parsed:
        filename = str(result.path)
        file_problems = problems[filename]
        whole_file_failed = bool(result.problems) and not result.dags
        with_problem = {problem.dag_id for problem in file_problems if problem.dag_id}
        for row in batch.of_file.get(filename, []):
            if row.dag_id in stored:
                continue  # stored just now, from this file or from the file it moved to
            if whole_file_failed or row.dag_id in with_problem:
                row.has_import_errors = True
            else:
                row.is_active = False
                summary.deactivated += 1
                log.info("DAG %s is no longer defined in %s: deactivated", row.dag_id, filename)
        if file_problems:
            upsert(
                session,
                ParseImportError,
                {
                    "filename": filename,
                    "stacktrace": _format_problems(file_problems),
                    "timestamp": now,
                },
                key=["filename"],
                update=["stacktrace", "timestamp"],
            )
            summary.import_errors += 1
            first_line = (
                file_problems[0].message.splitlines()[0] if file_problems[0].message else ""
            )
            summary.errors.append((filename, importer.cut_line(first_line)))
    clean = [str(result.path) for result in parsed if not problems[str(result.path)]]
    for condition in _in(ParseImportError.filename, clean):
        session.execute(delete(ParseImportError).where(condition))
    return summary


def deactivate_missing_files(session: Session, present: Iterable[str], folder_prefix: str) -> int:
    """Deactivate DAGs (and drop import errors) of files under the folder that no longer exist
    (or that the folder's ignore files or safe mode now leave out)."""
    present_set = set(present)
    count = 0
    query = select(Dag).where(
        Dag.is_active.is_(True), Dag.fileloc.startswith(folder_prefix, autoescape=True)
    )
    for row in session.scalars(query):
        if row.fileloc not in present_set:
            row.is_active = False
            count += 1
            log.info("The file of DAG %s (%s) is gone: deactivated", row.dag_id, row.fileloc)
    gone = [
        filename
        for filename in session.scalars(
            select(ParseImportError.filename).where(
                ParseImportError.filename.startswith(folder_prefix, autoescape=True)
            )
        )
        if filename not in present_set
    ]
    for condition in _in(ParseImportError.filename, gone):
        session.execute(delete(ParseImportError).where(condition))
    return count
