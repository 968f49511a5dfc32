"""Asking the celery workers who they are, through Celery remote control, and recording their
answers in the registry from a background thread of the scheduler's celery executor.

Workers run with gossip, mingle and Celery's event heartbeats off (they would only add broker
traffic), but remote control stays on: ``inspect().active_queues()`` and ``stats()`` are
broadcast on the broker's pidbox exchange and every worker answers with its queues, its pool
size, its pid and its uptime. The workers need no database access for this, which they must
not have.

The thread (``WorkerInspector``) never blocks the scheduler loop: it asks on its own Celery
app (its own broker connections: kombu connections are not shared between threads) and
writes with its own engine in one short transaction per round (on SQLite the write lock is
held for a few upserts). A broker or database error is logged, and the next round tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import celery
from sqlalchemy.engine import Engine

from tradewind.config import Settings
from tradewind.db import engine as db_engine
from tradewind.exceptions import BrokerUnreachable
from tradewind.remote import celery_app, worker_registry
from tradewind.remote.worker_registry import WorkerAnswer
from tradewind.sdk import timezone

log = logging.getLogger("tradewind.executor")

#: Seconds each remote control call waits for answers (Celery's default).
INSPECT_TIMEOUT = 1.0
#: Seconds ``stop`` waits for the thread to end its round.
STOP_TIMEOUT = 10.0


def answers_from_replies(
    queues_reply: Mapping[str, Any] | None,
    stats_reply: Mapping[str, Any] | None,
    now: datetime,
) -> list[WorkerAnswer]:
    """The answers of the workers that replied to ``active_queues`` (``{node: [{"name":
    ...}, ...]}``), with what they replied to ``stats`` (``{node: {"pid", "uptime", "pool":
    {"max-concurrency"}}}``) when they did. A reply of an unexpected shape gives what it holds
    that fits, never an error: a worker of another version must not stop the registry."""
    answers = []
    for node, queues in sorted((queues_reply or {}).items()):
        names = tuple(
            str(queue["name"])
            for queue in (queues if isinstance(queues, list) else [])
            if isinstance(queue, Mapping) and queue.get("name")
        )
        stats = (stats_reply or {}).get(node)
        stats = stats if isinstance(stats, Mapping) else {}
        pool = stats.get("pool")
        uptime = _number(stats.get("uptime"))
        answers.append(
            WorkerAnswer(
                worker_name=str(node),
                queues=names,
                concurrency=_number(pool.get("max-concurrency"))
                if isinstance(pool, Mapping)
                else None,
                pid=_number(stats.get("pid")),
                started_at=None if uptime is None else now - timedelta(seconds=uptime),
                answered_at=now,
            )
        )
    return answers


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def ask_workers(
    app: celery.Celery,
    *,
    timeout: float = INSPECT_TIMEOUT,
    clock: Callable[[], datetime] = timezone.utcnow,
) -> list[WorkerAnswer]:
    """The answers of the workers on ``app``'s broker (none: an empty list); waits about
    ``timeout`` seconds per question. ``BrokerUnreachable`` when the broker cannot be used."""
    connection = app.connection_for_write()
    try:
        connection.ensure_connection(max_retries=1)
        inspect = app.control.inspect(timeout=timeout, connection=connection)
        queues = inspect.active_queues()
        stats = inspect.stats() if queues else None
    except Exception as exc:
        shown = connection.as_uri()
        raise BrokerUnreachable(f"could not ask the workers on broker {shown}: {exc}") from exc
    finally:
        connection.release()
    return answers_from_replies(queues, stats, clock())


class WorkerInspector:
    """A daemon thread that asks the workers every ``interval`` seconds and records their
    answers (``start``, ``stop``); ``inspect_once`` is one question and its record."""

    def __init__(
        self,
        app: celery.Celery,
        engine: Engine,
        interval: float,
        *,
        timeout: float = INSPECT_TIMEOUT,
        clock: Callable[[], datetime] = timezone.utcnow,
    ) -> None:
        self.app = app
        self.engine = engine
        self.interval = interval
        self.timeout = timeout
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        #: Rounds done so far (answered or failed).
        self.rounds = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerInspector:
        """An inspector on ``[celery] broker_url`` and its own engine on the metastore."""
        return cls(
            celery_app.create_app(str(settings.get("celery", "broker_url"))),
            db_engine.engine_from_settings(settings),
            float(settings.get("celery", "worker_inspect_interval")),
        )

    @property
    def alive(self) -> bool:
        """Whether the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name="tradewind-worker-inspector", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """End the thread (after its current round) and close its connections."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
            if self._thread.is_alive():
                log.warning("The worker inspector did not stop within %.0f s", STOP_TIMEOUT)
                return  # its round still uses them: leave them to the process's end
        self.engine.dispose()
        self.app.close()

    def inspect_once(self) -> list[WorkerAnswer]:
        """Ask the workers and record their answers; errors are logged, not raised."""
        try:
            answers = ask_workers(self.app, timeout=self.timeout, clock=self.clock)
            if answers:  # nothing to write: no write transaction (SQLite's one writer)
                db_engine.run_in_transaction(
                    self.engine,
                    lambda session: worker_registry.record(session, answers, self.clock()),
                )
        except Exception as exc:
            # Logged once per streak of failures: a broker down for an hour is one line.
            if not self._failing:
                log.warning("Could not record the celery workers (will keep trying): %s", exc)
            self._failing = True
            return []
        if self._failing:
            log.info("Recording the celery workers again")
        self._failing = False
        return answers

    def _loop(self) -> None:
        next_round = time.monotonic()
        while not self._stop.is_set():
            self.inspect_once()
            self.rounds += 1
            # Rounds start every ``interval`` seconds, however long each took (at most one
            # round at a time), so answers come as often as the listings expect them.
            next_round = max(next_round + self.interval, time.monotonic())
            self._stop.wait(max(0.0, next_round - time.monotonic()))
