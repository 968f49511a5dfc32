"""The DAG processor: scan the folder, import what changed in child processes, store it.

Files are re-imported only when their size or mtime changed and then only when their content
hash changed, so a re-scan of an unchanged folder imports nothing. A new processor starts
from what the metastore already holds: a file whose text equals the source stored with its
DAGs' latest versions (and that has no import error) is not imported again either. What that
misses, a changed helper module that a DAG file imports, ``run_once(force=True)``
(``tradewind dags reserialize``) picks up.

The file, not the metastore, is the source of truth: a DAG deleted from the metastore
(``DELETE /api/v2/dags/{dag_id}``, ``tradewind dags delete``) while its file stays is stored
again, as a new DAG, at the next scan. Each scan compares the DAGs each unchanged file stored
with the metastore's active DAGs, and a new processor does not trust a file whose DAGs were
marked unparsed (``last_parsed_time`` cleared) by a delete. A delete also wakes the processor
(``wakeup``), so the DAG comes back at once rather than at the next ``refresh_interval``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import exc as sqlalchemy_exc
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind import wakeup
from tradewind.config import Settings
from tradewind.dag_processing import importer, processor_job, store
from tradewind.dag_processing.discovery import find_dag_files
from tradewind.dag_processing.file_parsing import ParsedFile, parse_files
from tradewind.dag_processing.importer import ImportProblem
from tradewind.db import engine as db_engine
from tradewind.db.models import Dag, DagVersion, ParseImportError
from tradewind.exceptions import MetastoreError
from tradewind.sdk import timezone

log = logging.getLogger("tradewind.dag_processor")


@dataclasses.dataclass(frozen=True)
class _Known:
    mtime_ns: int
    size: int
    digest: str
    #: The DAG ids the file stored at its last parse: when one of them is no longer an active
    #: DAG of this file in the metastore (deleted), the file is parsed again.
    dag_ids: frozenset[str] = frozenset()


@dataclasses.dataclass
class ProcessingSummary:
    files_found: int = 0
    files_parsed: int = 0
    dags_seen: int = 0
    versions_added: int = 0
    import_errors: int = 0
    deactivated: int = 0
    seconds: float = 0.0
    #: ``(filename, first line of the error)`` for each parsed file with an import error.
    errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class DagProcessor:
    """Keeps the metastore in step with the DAG folder."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.folder = settings.dags_folder.expanduser().resolve()
        self.timeout = float(settings.get("dag_processor", "file_timeout"))
        self.parallelism = int(settings.get("dag_processor", "parsing_processes"))
        self.paused_by_default = bool(settings.get("core", "dags_are_paused_at_creation"))
        self.file_defaults = importer.file_defaults_from(settings)
        self.log_folder = settings.log_folder / "dag_processor"
        self._known: dict[Path, _Known] = {}
        self._seeded = False
        self._conflicted: set[Path] = set()

    @property
    def _prefix(self) -> str:
        return str(self.folder).rstrip("/") + "/"

    def _seed(self) -> None:
        """Take the files the metastore is up to date with as known (see the module doc)."""

        def read(session: Session) -> dict[str, tuple[set[str], set[str]]]:
            query = (
                select(Dag.fileloc, Dag.dag_id, Dag.last_parsed_time, DagVersion.source_code)
                .join(DagVersion, DagVersion.id == Dag.latest_version_id)
                .where(
                    Dag.is_active.is_(True),
                    Dag.has_import_errors.is_(False),
                    Dag.fileloc.startswith(self._prefix, autoescape=True),
                )
            )
            files: dict[str, tuple[set[str], set[str]]] = {}
            unparsed: set[str] = set()
            for fileloc, dag_id, parsed_at, source in session.execute(query):
                if fileloc is None:  # excluded by the query; the column itself is nullable
                    continue
                digests, dag_ids = files.setdefault(fileloc, (set(), set()))
                digests.add(_digest((source or "").encode("utf-8")))
                dag_ids.add(dag_id)
                if parsed_at is None:  # a DAG of the file was deleted: see the module doc
                    unparsed.add(fileloc)
            for filename in session.scalars(
                select(ParseImportError.filename).where(
                    ParseImportError.filename.startswith(self._prefix, autoescape=True)
                )
            ):
                unparsed.add(filename)
            return {fileloc: found for fileloc, found in files.items() if fileloc not in unparsed}

        for fileloc, (digests, dag_ids) in db_engine.run_in_transaction(
            self.engine, read, readonly=True
        ).items():
            if len(digests) == 1:  # all DAGs of the file stored from the same text
                self._known.setdefault(
                    Path(fileloc), _Known(-1, -1, digests.pop(), frozenset(dag_ids))
                )
        self._seeded = True

    def _forget_deleted(self) -> None:
        """Take as changed the files one of whose DAGs is no longer stored as theirs."""
        if not any(known.dag_ids for known in self._known.values()):
            return

        def read(session: Session) -> set[tuple[str, str]]:
            query = select(Dag.dag_id, Dag.fileloc).where(
                Dag.is_active.is_(True), Dag.fileloc.startswith(self._prefix, autoescape=True)
            )
            return {
                (dag_id, fileloc)
                for dag_id, fileloc in session.execute(query)
                if fileloc is not None  # excluded by the query; the column itself is nullable
            }

        active = db_engine.run_in_transaction(self.engine, read, readonly=True)
        for path, known in list(self._known.items()):
            name = str(path)
            if any((dag_id, name) not in active for dag_id in known.dag_ids):
                log.info("A DAG of %s is no longer in the metastore: parsing the file again", name)
                del self._known[path]

    def _changed(self, files: list[Path]) -> tuple[list[Path], dict[Path, tuple[int, int, bytes]]]:
        changed: list[Path] = []
        contents: dict[Path, tuple[int, int, bytes]] = {}
        for path in files:
            try:
                stat = path.stat()
                known = self._known.get(path)
                if known is not None and (known.mtime_ns, known.size) == (
                    stat.st_mtime_ns,
                    stat.st_size,
                ):
                    continue
                data = path.read_bytes()
            except OSError:  # removed or unreadable since discovery: next scan sees it
                continue
            if known is not None and known.digest == _digest(data):
                self._known[path] = dataclasses.replace(
                    known, mtime_ns=stat.st_mtime_ns, size=stat.st_size
                )
                continue
            changed.append(path)
            contents[path] = (stat.st_mtime_ns, stat.st_size, data)
        return changed, contents

    def run_once(
        self, *, force: bool = False, stop: threading.Event | None = None
    ) -> ProcessingSummary:
        """One scan: parse changed files (all with ``force``) and store the results.

        When ``stop`` is set during the scan, files still importing are abandoned (they count
        as changed at the next scan) and what finished is stored.
        """
        started = time.monotonic()
        if force:
            self._known.clear()
        elif not self._seeded:
            self._seed()
        else:
            self._forget_deleted()
        files = find_dag_files(self.folder) if self.folder.exists() else []
        changed, contents = self._changed(files)
        parsed = (
            parse_files(
                changed,
                timeout=self.timeout,
                parallelism=self.parallelism,
                log_folder=self.log_folder,
                folder=self.folder,
                sys_path=self._sys_path(),
                stop=stop,
                defaults=self.file_defaults,
                bundle_root=self.folder if self.folder.is_dir() else self.folder.parent,
            )
            if changed
            else []
        )
        summary = ProcessingSummary(files_found=len(files), files_parsed=len(parsed))
        now = timezone.utcnow()
        present = {str(path) for path in files}

        stored = self._store(parsed, contents, present, now)
        self._remember(parsed, contents, present, stored)
        summary.dags_seen = stored.dags_seen
        summary.versions_added = stored.versions_added
        summary.import_errors = stored.import_errors
        summary.deactivated = stored.deactivated
        summary.errors = stored.errors
        summary.seconds = time.monotonic() - started
        if parsed or stored.deactivated:
            wakeup.notify(self.settings.home)
        if parsed:
            log.info(
                "Parsed %d of %d files in %.2f s: %d DAGs, %d new versions, %d files with errors",
                len(parsed),
                len(files),
                summary.seconds,
                stored.dags_seen,
                stored.versions_added,
                stored.import_errors,
            )
        return summary

    def _store(
        self,
        parsed: list[ParsedFile],
        contents: dict[Path, tuple[int, int, bytes]],
        present: set[str],
        now: datetime,
    ) -> store.StoreSummary:
        """Store a scan's results in one transaction. When the metastore refuses the batch for
        what is in it (a value too long for its column), file by file: a file it cannot take
        fails alone, with an import error saying so, instead of every scan failing."""
        sources = {
            result.path: contents[result.path][2].decode("utf-8", errors="replace")
            for result in parsed
        }

        def is_live(fileloc: str) -> bool:
            if fileloc.startswith(self._prefix):
                return fileloc in present
            return os.path.exists(fileloc)

        def write(
            batch: list[ParsedFile], *, deactivate: bool
        ) -> Callable[[Session], store.StoreSummary]:
            def apply(session: Session) -> store.StoreSummary:
                total = store.store_files(
                    session,
                    batch,
                    sources,
                    paused_by_default=self.paused_by_default,
                    now=now,
                    is_live=is_live,
                )
                if deactivate:
                    total.deactivated += store.deactivate_missing_files(
                        session, present, self._prefix
                    )
                return total

            return apply

        try:
            return db_engine.run_in_transaction(self.engine, write(parsed, deactivate=True))
        except MetastoreError as exc:
            if not parsed or not _refused_content(exc):
                raise
            log.warning(
                "The metastore refused this scan's results (%s): storing them file by file", exc
            )
        total = store.StoreSummary()
        for result in sorted(
            parsed, key=lambda result: str(result.path)
        ):  # the first path keeps a shared id
            try:
                total.add(
                    db_engine.run_in_transaction(self.engine, write([result], deactivate=False))
                )
                continue
            except MetastoreError as exc:
                if not _refused_content(exc):
                    raise
                refused = exc
            problem = ImportProblem(
                str(result.path), f"the DAGs of this file cannot be stored: {refused}", ""
            )
            try:
                total.add(
                    db_engine.run_in_transaction(
                        self.engine,
                        write(
                            [ParsedFile(result.path, {}, [problem], result.duration)],
                            deactivate=False,
                        ),
                    )
                )
            except MetastoreError as exc:
                if not _refused_content(exc):
                    raise
                log.error(
                    "Neither the DAGs nor the import error of %s can be stored (%s): skipped until "
                    "it changes",
                    result.path,
                    exc,
                )
        total.deactivated += db_engine.run_in_transaction(
            self.engine,
            lambda session: store.deactivate_missing_files(session, present, self._prefix),
        )
        return total

    def _remember(
        self,
        parsed: list[ParsedFile],
        contents: dict[Path, tuple[int, int, bytes]],
        present: set[str],
        stored: store.StoreSummary,
    ) -> None:
        for result in parsed:
            mtime_ns, size, data = contents[result.path]
            try:
                unchanged_since = result.path.stat().st_mtime_ns == mtime_ns
            except OSError:
                unchanged_since = False
            if unchanged_since:  # edited while it was imported: parse it again next time
                dag_ids = frozenset(stored.stored_by_file.get(str(result.path), ()))
                self._known[result.path] = _Known(mtime_ns, size, _digest(data), dag_ids)
            else:
                self._known.pop(result.path, None)
        for path in list(self._known):
            if str(path) not in present:
                del self._known[path]
        # A file that lost a DAG id to another file gets it once that file lets go of it
        # (deleted, or no longer defining it): then parse it again.
        self._conflicted = {path for path in self._conflicted if str(path) in present}
        self._conflicted |= {Path(name) for name in stored.conflicted}
        if stored.deactivated:
            for path in self._conflicted:
                self._known.pop(path, None)

    def _sys_path(self) -> list[str]:
        """DAG files import helper modules beside them or at the folder's top, as in Airflow."""
        return [str(self.folder)] if self.folder.is_dir() else [str(self.folder.parent)]

    def run_forever(self, stop: threading.Event, interval: float | None = None) -> None:
        """Scan every ``interval`` seconds until ``stop`` is set, beating in the job table."""
        interval = (
            float(self.settings.get("dag_processor", "refresh_interval"))
            if interval is None
            else interval
        )
        listener = wakeup.open_listener(self.settings.home, wakeup.DAG_PROCESSOR)
        job_id = processor_job.register(self.engine)
        try:
            while not stop.is_set():
                try:
                    self.run_once(stop=stop)
                except Exception:  # one bad scan (a DB hiccup) must not end the processor
                    log.exception("DAG folder scan failed; trying again in %.1f s", interval)
                processor_job.heartbeat(self.engine, job_id)
                _pause(stop, listener, interval)
        finally:
            if listener is not None:
                listener.close()
            processor_job.end(self.engine, job_id)


def _refused_content(exc: MetastoreError) -> bool:
    """Whether the metastore refused what was written (not a lost connection or a lock)."""
    return isinstance(exc.__cause__, (sqlalchemy_exc.DataError, sqlalchemy_exc.IntegrityError))


#: How often the pause between scans looks for a wake-up.
_WAKE_CHECK = 0.2


def _pause(stop: threading.Event, listener: socket.socket | None, seconds: float) -> None:
    """Wait ``seconds``, less when ``stop`` is set or a wake-up (a deleted DAG) arrives."""
    if listener is None:
        stop.wait(seconds)
        return
    deadline = time.monotonic() + seconds
    while not stop.wait(max(0.0, min(deadline - time.monotonic(), _WAKE_CHECK))):
        if wakeup.received(listener) or time.monotonic() >= deadline:
            return
