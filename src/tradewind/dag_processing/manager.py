"""The DAG processor: scan the folder, import what changed in child processes, store it.

Files are re-imported only when their size or mtime changed and then only when their content
hash changed, so a re-scan of an unchanged folder imports nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.config import Settings
from tradewind.dag_processing import store
from tradewind.dag_processing.discovery import find_dag_files
from tradewind.dag_processing.file_parsing import parse_files
from tradewind.db import engine as db_engine
from tradewind.sdk import timezone
from tradewind.services import wakeup

log = logging.getLogger("tradewind.dag_processor")


@dataclasses.dataclass(frozen=True)
class _Known:
    mtime_ns: int
    size: int
    digest: str


@dataclasses.dataclass
class ProcessingSummary:
    files_found: int = 0
    files_parsed: int = 0
    dags_seen: int = 0
    versions_added: int = 0
    import_errors: int = 0
    deactivated: int = 0
    seconds: float = 0.0


class DagProcessor:
    """Keeps the metastore in step with the DAG folder."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.folder = settings.dags_folder.expanduser().resolve()
        self.timeout = float(settings.get("dag_processor", "file_timeout"))
        self.parallelism = int(settings.get("dag_processor", "parsing_processes"))
        self.paused_by_default = bool(settings.get("core", "dags_are_paused_at_creation"))
        self._known: dict[Path, _Known] = {}

    def _changed(self, files: list[Path]) -> tuple[list[Path], dict[Path, tuple[int, int, bytes]]]:
        changed: list[Path] = []
        contents: dict[Path, tuple[int, int, bytes]] = {}
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            known = self._known.get(path)
            if known is not None and (known.mtime_ns, known.size) == (stat.st_mtime_ns, stat.st_size):
                continue
            data = path.read_bytes()
            if known is not None and known.digest == hashlib.sha256(data).hexdigest():
                self._known[path] = dataclasses.replace(known, mtime_ns=stat.st_mtime_ns, size=stat.st_size)
                continue
            changed.append(path)
            contents[path] = (stat.st_mtime_ns, stat.st_size, data)
        return changed, contents

    def run_once(self, *, force: bool = False) -> ProcessingSummary:
        """One scan: parse changed files (all with ``force``) and store the results."""
        started = time.monotonic()
        if force:
            self._known.clear()
        files = find_dag_files(self.folder) if self.folder.exists() else []
        changed, contents = self._changed(files)
        parsed = parse_files(changed, timeout=self.timeout, parallelism=self.parallelism,
                             log_folder=self.settings.log_folder / "dag_processor") if changed else []
        summary = ProcessingSummary(files_found=len(files), files_parsed=len(parsed))
        now = timezone.utcnow()
        present = [str(path) for path in files]

        def write(session: Session) -> store.StoreSummary:
            total = store.StoreSummary()
            for result in parsed:
                source = contents[result.path][2].decode("utf-8", errors="replace")
                total.add(store.store_file(session, result, source, paused_by_default=self.paused_by_default, now=now))
            total.deactivated += store.deactivate_missing_files(session, present, str(self.folder) + "/")
            return total

        stored = db_engine.run_in_transaction(self.engine, write)
        for result in parsed:
            mtime_ns, size, data = contents[result.path]
            self._known[result.path] = _Known(mtime_ns, size, hashlib.sha256(data).hexdigest())
        for path in list(self._known):
            if str(path) not in present:
                del self._known[path]
        summary.dags_seen = stored.dags_seen
        summary.versions_added = stored.versions_added
        summary.import_errors = stored.import_errors
        summary.deactivated = stored.deactivated
        summary.seconds = time.monotonic() - started
        if parsed or stored.deactivated:
            wakeup.notify(self.settings.home)
        if parsed:
            log.info("Parsed %d of %d files in %.2f s: %d DAGs, %d new versions, %d files with errors",
                     len(parsed), len(files), summary.seconds, stored.dags_seen, stored.versions_added, stored.import_errors)
        return summary

    def run_forever(self, stop: threading.Event, interval: float | None = None) -> None:
        interval = float(self.settings.get("dag_processor", "refresh_interval")) if interval is None else interval
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # one bad scan (a DB hiccup) must not end the processor
                log.exception("DAG folder scan failed; trying again in %.1f s", interval)
            stop.wait(interval)

