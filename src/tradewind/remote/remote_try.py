"""One broker message on a worker, from start to finish (docs/remote-execution.md, steps 2-5).

Start the try through the execution API (a second delivery of a started try is refused: drop
it), fetch its DAG bundle once per hash, hand it to the ``TryHost``, heartbeat it and ship its
log while it runs, then send its end. The message is acknowledged by the caller only after
this returns, so a worker that dies anywhere before loses nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
from pathlib import Path

import httpx2

from tradewind.executors.base import TaskDied, TaskFinished
from tradewind.remote import bundles, wire
from tradewind.remote.execution_client import ExecutionApiError, ExecutionClient, TryRefused
from tradewind.remote.try_host import HostedTry, TryHost
from tradewind.runner.workload import TaskWorkload

log = logging.getLogger("tradewind.remote")

#: Largest log chunk sent in one call (the API server's ``[api] max_body_bytes`` is 4 MiB).
LOG_CHUNK_BYTES = 1024 * 1024


class Redeliver(Exception):
    """The message could not be handled now (the API server unreachable): give it back."""


@dataclasses.dataclass
class WorkerContext:
    """What every message of one worker shares."""

    host: TryHost
    http: httpx2.Client
    work_dir: Path
    heartbeat_interval: float
    hostname: str = dataclasses.field(default_factory=socket.gethostname)
    _bundle_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    @property
    def bundle_cache(self) -> Path:
        return self.work_dir / "bundles"

    @property
    def log_dir(self) -> Path:
        return self.work_dir / "logs"


def handle(body: object, context: WorkerContext) -> str:
    """Run the try in a message body to its end; what became of it, for the worker's log.
    ``Redeliver`` when the message must go back to the broker."""
    try:
        message = wire.decode(body)
    except wire.BadTryMessage as exc:
        log.error("Dropped a message that is not a try: %s", exc)
        return f"dropped: {exc}"
    workload = message.workload
    client = ExecutionClient(context.http, message.execution_api_url, workload.ti_id, message.token)
    try:
        client.start(context.hostname, os.getpid())
    except TryRefused as exc:
        log.info("Dropped %s: its start was refused (%s)", workload.describe(), exc.detail)
        return f"dropped: {exc.detail}"
    except ExecutionApiError as exc:
        if exc.status == 0:
            raise Redeliver(str(exc)) from exc
        log.error("Dropped %s: %s", workload.describe(), exc)
        return f"dropped: {exc}"
    try:
        local = _local_workload(workload, client, context)
    except Exception as exc:
        reason = f"the worker could not prepare the try: {exc}"
        log.error("%s: %s", workload.describe(), reason)
        _send_end(client, None, reason)
        return f"died: {reason}"
    hosted = HostedTry(local, client)
    context.host.run(hosted)
    shipped = _supervise(hosted, context)
    _ship_log(client, Path(local.log_path), shipped)
    end = hosted.end
    if isinstance(end, TaskFinished):
        _send_end(client, end.done.as_fields(), None)
        return f"finished: {end.done.state}"
    reason = end.reason if isinstance(end, TaskDied) else "the try died"
    _send_end(client, None, reason)
    return f"died: {reason}"


def _supervise(hosted: HostedTry, context: WorkerContext) -> int:
    """Heartbeat and ship the log until the try ends; the log bytes shipped."""
    client, ti_id = hosted.client, hosted.workload.ti_id
    log_path = Path(hosted.workload.log_path)
    shipped = 0
    while not hosted.ended.wait(context.heartbeat_interval):
        try:
            client.heartbeat(context.hostname, os.getpid())
        except TryRefused as exc:
            what = hosted.workload.describe()
            log.warning("%s no longer runs here (%s): terminating it", what, exc.detail)
            context.host.terminate(ti_id)
        except ExecutionApiError as exc:
            log.warning("Heartbeat of %s failed: %s", hosted.workload.describe(), exc)
        shipped = _ship_log(client, log_path, shipped)
    return shipped


def _ship_log(client: ExecutionClient, path: Path, offset: int) -> int:
    """Send the log from ``offset`` in chunks; the new offset (unchanged when refused)."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            while chunk := handle.read(LOG_CHUNK_BYTES):
                try:
                    offset = client.send_log(offset, chunk)
                except TryRefused:
                    stored = client.log_size()
                    if stored == offset:
                        raise
                    offset = stored
                handle.seek(offset)
    except FileNotFoundError:
        pass
    except ExecutionApiError as exc:
        log.warning("Shipping the log %s failed: %s", path, exc)
    return offset


def _send_end(client: ExecutionClient, done: dict[str, object] | None, reason: str | None) -> None:
    try:
        if done is not None:
            client.finished(done)
        else:
            client.died(reason or "the try died")
    except TryRefused as exc:
        log.warning("The end of try was refused (%s): the scheduler decided it", exc.detail)


def _local_workload(
    workload: TaskWorkload, client: ExecutionClient, context: WorkerContext
) -> TaskWorkload:
    """The workload as this worker runs it: its log in the worker's folder, its DAG file from
    the bundle (when the version has one), no outcome file (ends go to the API)."""
    log_path = context.log_dir / str(workload.ti_id) / f"attempt={workload.try_number}.log"
    local = dataclasses.replace(workload, log_path=str(log_path), outcome_path=None)
    if workload.bundle_hash:
        folder = _bundle_folder(workload.bundle_hash, client, context)
        names = [
            path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()
        ]
        member = bundles.relative_fileloc(workload.fileloc, names)
        local = dataclasses.replace(local, fileloc=str(bundles.local_fileloc(folder, member)))
    return local


def _bundle_folder(bundle_hash: str, client: ExecutionClient, context: WorkerContext) -> Path:
    with context._bundle_lock:
        folder = context.bundle_cache / bundle_hash
        if folder.is_dir():
            return folder
        content, _ = client.bundle()
        return bundles.extract(content, bundle_hash, context.bundle_cache)
