"""``CeleryExecutor``: tries run on ``tradewind celery worker`` processes on any machine.

``launch`` sends the try to its Celery queue with a queued token (docs/remote-execution.md);
workers start, heartbeat and end tries through the API server's execution API, which records
each start and end as an ``execution_event`` row; ``wait`` reports those rows as the events
every executor reports, so the scheduler applies them as a local try's. ``wait`` wakes at once
on ``LISTEN tradewind_execution_events`` (PostgreSQL) or the home's wake-up datagram (SQLite,
among the scheduler's own descriptors). Every few seconds it also reports dead the tries no
worker will report an end of: those whose worker stopped heartbeating for ``[scheduler]
heartbeat_timeout`` seconds, and those whose task instance was changed from outside (marked
failed, say: the worker stops the try at its next heartbeat, and its end is refused).
``terminate`` asks the try's worker to stop it through the execution API (``celery_events``).

Differences from the local executor, by design: remote tries outlive the scheduler (``end``
leaves them running, and the next scheduler adopts them: ``adopts_remote_tries``), and workers
heartbeat them (``heartbeats_remotely``). DAG callbacks still run on the scheduler's host, by a
local executor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tradewind.config import Settings
from tradewind.db import engine as db_engine
from tradewind.db.listen import PgListener
from tradewind.exceptions import ConfigError
from tradewind.executors import celery_events
from tradewind.executors.base import (
    BaseExecutor,
    Event,
    RequestHandler,
    TaskDied,
    TaskFinished,
)
from tradewind.executors.local import LocalExecutor
from tradewind.remote import celery_app, tokens, wire, worker_inspector
from tradewind.remote.tokens import TryClaims
from tradewind.runner.workload import CallbackWorkload, TaskWorkload
from tradewind.sdk import timezone

log = logging.getLogger("tradewind.executor")

#: Longest ``wait`` between two reads of the events (a lost wake-up costs at most this).
MAX_QUIET_SECONDS = 2.0
#: Seconds between two looks for lost tries (silent workers, task instances changed).
LOST_CHECK_SECONDS = 5.0


def execution_api_url(settings: Settings) -> str:
    """``[core] execution_api_server_url``, else the local API server's."""
    url = settings.get("core", "execution_api_server_url")
    return str(url) if url else f"http://127.0.0.1:{settings.get('api', 'port')}/execution/"


class CeleryExecutor(BaseExecutor):
    kind = "celery"
    adopts_remote_tries = True
    heartbeats_remotely = True

    def __init__(self, settings: Settings) -> None:
        secret = settings.get("api_auth", "jwt_secret")
        if not secret:
            raise ConfigError(
                "the celery executor needs [api_auth] jwt_secret (TRADEWIND__API_AUTH__JWT_SECRET) "
                "to sign the tokens of the tries it sends; set the same value on the API servers"
            )
        self.secret = str(secret)
        self.parallelism = max(1, int(settings.get("core", "parallelism")))
        self.default_queue = str(settings.get("celery", "default_queue"))
        self.token_ttl = float(settings.get("execution_api", "queued_token_expiration"))
        self.heartbeat_timeout = float(settings.get("scheduler", "heartbeat_timeout"))
        self.api_url = execution_api_url(settings)
        self.app = celery_app.create_app(str(settings.get("celery", "broker_url")))
        self.settings = settings
        self.callbacks = LocalExecutor(1, fork_server=False)
        #: ti_id -> try number of the tries sent and not ended.
        self.tries: dict[int, int] = {}
        self._reported_rows: set[int] = set()
        self._applied_rows: list[int] = []
        #: Ends decided here (a try stopped before it started), for the next ``wait``.
        self._pending: list[Event] = []
        #: Tries asked to stop (ti_id -> try number), until they end.
        self._stopping: dict[int, int] = {}
        #: Ended tries whose remaining rows (a stop request, an event never read) go.
        self._ended_rows: list[tuple[int, int]] = []
        self._next_lost_check = 0.0
        self.engine: Any = None
        self.listener: PgListener | None = None
        #: Records the workers' answers for the Workers page (its own thread and connections).
        self.inspector: worker_inspector.WorkerInspector | None = None
        self._producer_connection: Any = None

    def start(
        self,
        request_handler: RequestHandler,
        *,
        private_fds: Sequence[Any] = (),
        home: Path | None = None,
    ) -> None:
        self.engine = db_engine.engine_from_settings(self.settings)
        self.listener = PgListener(self.engine, celery_events.NOTIFY_CHANNEL)
        fds = list(private_fds)
        descriptor = self.listener.fileno()
        if descriptor is not None:
            # A bare descriptor: a forked child closes its copy; closing the connection
            # object there would end this process's session.
            fds.append(descriptor)
        self.callbacks.start(request_handler, private_fds=fds)
        self._producer_connection = self.app.connection_for_write()
        self.inspector = worker_inspector.WorkerInspector.from_settings(self.settings)
        self.inspector.start()

    @property
    def open_slots(self) -> int:
        return self.parallelism - len(self.tries)

    @property
    def running_ti_ids(self) -> set[int]:
        return set(self.tries)

    # -- sending ----------------------------------------------------------------------------
    def launch(self, workload: TaskWorkload) -> None:
        claims = TryClaims(
            ti_id=workload.ti_id,
            try_number=workload.try_number,
            dag_id=workload.dag_id,
            run_id=workload.run_id,
            task_id=workload.task_id,
            map_index=workload.map_index,
        )
        token = tokens.issue(self.secret, claims, scope=tokens.QUEUED, ttl=self.token_ttl)
        body = wire.encode(wire.TryMessage(workload, token, self.api_url))
        name = celery_app.broker_queue(workload.queue, self.default_queue)
        self.app.send_task(
            celery_app.TASK_NAME,
            args=[body],
            queue=celery_app.queue(name),
            routing_key=name,
            connection=self._producer_connection,
        )
        self.tries[workload.ti_id] = workload.try_number

    def launch_callback(self, workload: CallbackWorkload) -> None:
        self.callbacks.launch_callback(workload)

    def take_ended_callbacks(self) -> list[tuple[str, str]]:
        return self.callbacks.take_ended_callbacks()

    @property
    def running_callback_runs(self) -> set[tuple[str, str]]:
        return self.callbacks.running_callback_runs

    def answer_requests(self) -> int:
        return self.callbacks.answer_requests()

    # -- tries of a scheduler that died -----------------------------------------------------
    def adopt_remote(self, ti_id: int, try_number: int, *, started: bool) -> None:
        """Report the ends of a try another scheduler sent (its worker goes on with it); its
        row tells whether it started."""
        self.tries[ti_id] = try_number

    def release(self, ti_id: int) -> None:
        self.tries.pop(ti_id, None)
        self._stopping.pop(ti_id, None)

    # -- waiting ----------------------------------------------------------------------------
    def wait(self, timeout: float | None, extra_fds: list[Any]) -> tuple[list[Event], list[Any]]:
        self._delete_done_rows()
        events = self._take_events()
        if events:
            return events, []
        listener = self.listener
        fds = list(extra_fds)
        if listener is not None and listener.active:
            fds.append(listener)
        # The events are read every MAX_QUIET_SECONDS, yet the wait lasts its whole timeout
        # unless something comes: a wait that ends early tells the scheduler that something
        # woke it, so it would never make its idle pass, the one that starts runs triggered
        # where no wake-up reaches it (an API server on another machine).
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            left = MAX_QUIET_SECONDS if end is None else end - time.monotonic()
            quiet = max(0.0, min(left, MAX_QUIET_SECONDS))
            waited_from = time.monotonic()
            local_events, readable = self.callbacks.wait(quiet, fds)
            woke_early = time.monotonic() - waited_from < quiet - 0.001
            notified = listener is not None and listener in readable
            if listener is not None and notified:
                listener.drain()
                readable = [fd for fd in readable if fd is not listener]
            events = local_events + self._take_events()
            over = end is not None and time.monotonic() >= end
            # The callbacks' executor also wakes for its own reasons (a question for
            # ``answer_requests``): those end the wait as they would without remote tries.
            if events or readable or over or (woke_early and not notified):
                return events, readable

    def _take_events(self) -> list[Event]:
        events, self._pending = self._pending, []
        for row_id, event in celery_events.read_events(self.engine, self.tries):
            if row_id in self._reported_rows:
                continue
            self._reported_rows.add(row_id)
            self._applied_rows.append(row_id)
            events.append(event)
            if isinstance(event, TaskFinished | TaskDied):
                self._forget(event.ti_id)
        now = time.monotonic()
        if now >= self._next_lost_check and self.tries:
            self._next_lost_check = now + LOST_CHECK_SECONDS
            rows = celery_events.row_states(self.engine, self.tries)
            for died in celery_events.lost_tries(
                self.tries, rows, timezone.utcnow(), self.heartbeat_timeout
            ):
                self._ended_rows.append((died.ti_id, self.tries[died.ti_id]))
                self._forget(died.ti_id)
                events.append(died)
        return events

    def _forget(self, ti_id: int) -> None:
        """The try ended (its end is being reported)."""
        self.tries.pop(ti_id, None)
        stopped = self._stopping.pop(ti_id, None)
        if stopped is not None:
            self._ended_rows.append((ti_id, stopped))

    def _delete_done_rows(self) -> None:
        """Delete the rows of the events the scheduler applied (it applies the events of one
        ``wait`` before the next), and those left by ended tries."""
        celery_events.delete_events(self.engine, self._applied_rows)
        self._reported_rows.difference_update(self._applied_rows)
        self._applied_rows = []
        celery_events.delete_rows_of(self.engine, self._ended_rows)
        self._ended_rows = []

    # -- stopping ---------------------------------------------------------------------------
    def terminate(self, ti_id: int) -> None:
        """Ask the try's worker to stop it: the execution API refuses the try's next heartbeat
        and its worker terminates it, then reports its end as usual (the scheduler usually
        changed the task instance already: then the lost-try check reports it). A try no
        worker started yet never starts: its end is reported by the next ``wait``."""
        try_number = self.tries.get(ti_id)
        if try_number is None:
            return
        self._stopping[ti_id] = try_number
        if not celery_events.request_stop(self.engine, ti_id, try_number, now=timezone.utcnow()):
            self._forget(ti_id)
            self._pending.append(TaskDied(ti_id, "stopped before a worker started it"))

    def end(self, grace: float | None = None) -> list[Event]:
        """Stop the callbacks; remote tries go on (the next scheduler adopts them)."""
        events = self.callbacks.end(grace) + self._pending
        self._pending = []
        if self.inspector is not None:
            self.inspector.stop()
        self.tries.clear()
        self._stopping.clear()
        self._delete_done_rows()
        if self.listener is not None:
            self.listener.close()
        if self._producer_connection is not None:
            self._producer_connection.release()
            self._producer_connection = None
        if self.engine is not None:
            self.engine.dispose()
        return events
