"""What the celery executor reads from the metastore: the ``execution_event`` rows the API
server wrote for remote tries, the tries whose worker stopped heartbeating, and the
PostgreSQL notification that a new row committed.

Rows are turned into the executor's events (``TaskStarted``, ``TaskFinished``, ``TaskDied``)
and deleted once the scheduler applied them: until then a second start of that try is
refused by the API server.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from tradewind.db import engine as db_engine
from tradewind.db.models import TaskInstance
from tradewind.db.models.execution import ExecutionEvent
from tradewind.executors.base import Event, TaskDied, TaskFinished, TaskStarted
from tradewind.runner.messages import TaskDone
from tradewind.sdk import timezone

log = logging.getLogger("tradewind.executor")

#: The channel the API server notifies when it records a remote try's event.
NOTIFY_CHANNEL = "tradewind_execution_events"


def read_events(engine: Engine, tries: dict[int, int]) -> list[tuple[int, Event]]:
    """(row id, event) of the recorded events of ``tries`` (ti_id -> try number), in order."""
    if not tries:
        return []

    def read(session: Any) -> list[tuple[int, int, int, str, dict[str, Any]]]:
        rows = session.execute(
            select(
                ExecutionEvent.id,
                ExecutionEvent.ti_id,
                ExecutionEvent.try_number,
                ExecutionEvent.kind,
                ExecutionEvent.payload,
            )
            .where(ExecutionEvent.ti_id.in_(list(tries)))
            .order_by(ExecutionEvent.id)
        ).all()
        return [tuple(row) for row in rows]

    out: list[tuple[int, Event]] = []
    for row_id, ti_id, try_number, kind, payload in db_engine.run_in_transaction(
        engine, read, readonly=True
    ):
        if tries.get(ti_id) != try_number:
            continue  # an earlier try's row, or another scheduler's
        event = to_event(ti_id, kind, payload)
        if event is not None:
            out.append((row_id, event))
    return out


def to_event(ti_id: int, kind: str, payload: dict[str, Any]) -> Event | None:
    """The executor event of one row; None (logged) for a row that does not fit."""
    try:
        if kind == "started":
            at = datetime.fromisoformat(payload["at"])
            return TaskStarted(ti_id, int(payload["pid"]), str(payload["hostname"]), at)
        if kind == "finished":
            fields = {key: value for key, value in payload.items() if key != "op"}
            return TaskFinished(ti_id, TaskDone(**fields))
        if kind == "died":
            return TaskDied(ti_id, str(payload["reason"]))
    except (KeyError, TypeError, ValueError) as exc:
        log.error("Execution event %s of task instance %s does not fit: %s", kind, ti_id, exc)
        return TaskDied(ti_id, f"its worker reported an unreadable {kind} event: {exc}")
    log.error("Execution event of unknown kind %r for task instance %s", kind, ti_id)
    return None


def delete_events(engine: Engine, row_ids: Iterable[int]) -> None:
    ids = list(row_ids)
    if ids:
        db_engine.run_in_transaction(
            engine, lambda s: s.execute(delete(ExecutionEvent).where(ExecutionEvent.id.in_(ids)))
        )


def silent_tries(engine: Engine, ti_ids: Iterable[int], timeout: float) -> list[int]:
    """Those of ``ti_ids`` running with no heartbeat for ``timeout`` seconds."""
    ids = list(ti_ids)
    if not ids:
        return []
    cutoff = timezone.utcnow() - timedelta(seconds=timeout)

    def read(session: Any) -> list[int]:
        return list(
            session.scalars(
                select(TaskInstance.id).where(
                    TaskInstance.id.in_(ids),
                    TaskInstance.state == "running",
                    TaskInstance.last_heartbeat_at < cutoff,
                )
            )
        )

    return db_engine.run_in_transaction(engine, read, readonly=True)


class EventListener:
    """``LISTEN tradewind_execution_events`` on a connection of its own (PostgreSQL only):
    its socket is readable when the API server recorded an event."""

    def __init__(self, engine: Engine) -> None:
        self.connection: Any = None
        if engine.dialect.name != "postgresql":
            return
        raw = engine.raw_connection()
        driver = raw.driver_connection
        if driver is None:
            raw.close()
            return
        self._raw = raw
        driver.autocommit = True
        driver.execute(f"LISTEN {NOTIFY_CHANNEL}")
        self.connection = driver

    def fileno(self) -> int:
        return int(self.connection.fileno())

    def drain(self) -> None:
        """Take the notifications received (their content does not matter)."""
        if self.connection is None:
            return
        with contextlib.suppress(Exception):
            for _ in self.connection.notifies(timeout=0, stop_after=1000):
                pass

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self._raw.close()
            self.connection = None
