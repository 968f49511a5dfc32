"""What the celery executor reads from and writes to the metastore: the ``execution_event``
rows the API server wrote for remote tries, the tries it lost (their worker stopped
heartbeating, or their task instance was changed from outside), its requests to stop a try,
and the PostgreSQL notification that a new row committed.

Rows are turned into the executor's events (``TaskStarted``, ``TaskFinished``, ``TaskDied``)
and deleted once the scheduler applied them: until then a second start of that try is
refused by the API server. A stop request is a ``stop`` row of the try: the API server
refuses the try's start and heartbeats while it exists, so its worker drops or terminates it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.engine import Engine

from tradewind.db import engine as db_engine
from tradewind.db.models import TaskInstance
from tradewind.db.models.execution import STOP, ExecutionEvent
from tradewind.executors.base import Event, TaskDied, TaskFinished, TaskStarted
from tradewind.runner.messages import TaskDone
from tradewind.sdk.states import TaskInstanceState as TIS

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
            .where(ExecutionEvent.ti_id.in_(list(tries)), ExecutionEvent.kind != STOP)
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


@dataclasses.dataclass(frozen=True)
class TryRowState:
    """What the task instance row of a remote try says now."""

    state: str | None
    try_number: int
    last_heartbeat_at: datetime | None


def row_states(engine: Engine, ti_ids: Iterable[int]) -> dict[int, TryRowState]:
    """The rows of ``ti_ids`` (a deleted one is missing)."""
    ids = list(ti_ids)
    if not ids:
        return {}

    def read(session: Any) -> dict[int, TryRowState]:
        rows = session.execute(
            select(
                TaskInstance.id,
                TaskInstance.state,
                TaskInstance.try_number,
                TaskInstance.last_heartbeat_at,
            ).where(TaskInstance.id.in_(ids))
        ).all()
        return {
            ti_id: TryRowState(
                state.value if isinstance(state, TIS) else state, try_number, heartbeat
            )
            for ti_id, state, try_number, heartbeat in rows
        }

    return db_engine.run_in_transaction(engine, read, readonly=True)


def lost_tries(
    tries: Mapping[int, int], rows: Mapping[int, TryRowState], now: datetime, timeout: float
) -> list[TaskDied]:
    """The tries of ``tries`` (ti_id -> try number) no worker will report an end of: their
    task instance is gone or no longer queued or running that try (changed from outside: the
    worker's end report is refused), or it runs with no heartbeat for ``timeout`` seconds
    (its worker was killed or cut off)."""
    cutoff = now - timedelta(seconds=timeout)
    lost: list[TaskDied] = []
    for ti_id, try_number in tries.items():
        row = rows.get(ti_id)
        if row is None:
            lost.append(TaskDied(ti_id, "its task instance was deleted"))
        elif row.try_number != try_number or row.state not in (TIS.QUEUED, TIS.RUNNING):
            lost.append(
                TaskDied(
                    ti_id,
                    f"its task instance was changed from outside (now {row.state or 'no state'} "
                    f"at try {row.try_number}); its worker stops it at its next heartbeat",
                )
            )
        elif (
            row.state == TIS.RUNNING
            and row.last_heartbeat_at is not None
            and row.last_heartbeat_at < cutoff
        ):
            lost.append(
                TaskDied(
                    ti_id,
                    f"its worker sent no heartbeat for {timeout:g} s (killed or cut off)",
                )
            )
    return lost


def request_stop(engine: Engine, ti_id: int, try_number: int, *, now: datetime) -> bool:
    """Ask the worker of a try to stop it (once: a second request changes nothing). Whether
    the try started: if not, it never will (its start is refused), and no end of it will be
    reported. The task instance row is locked while deciding, as the start call locks it."""

    def apply(session: Any) -> bool:
        row = session.execute(
            select(TaskInstance.state, TaskInstance.try_number)
            .where(TaskInstance.id == ti_id)
            .with_for_update()
        ).first()
        kinds = set(
            session.scalars(
                select(ExecutionEvent.kind).where(
                    ExecutionEvent.ti_id == ti_id, ExecutionEvent.try_number == try_number
                )
            )
        )
        if STOP not in kinds:
            session.add(
                ExecutionEvent(
                    ti_id=ti_id, try_number=try_number, kind=STOP, payload={}, created_at=now
                )
            )
        running = row is not None and tuple(row) == (TIS.RUNNING, try_number)
        return running or bool(kinds - {STOP})

    return db_engine.run_in_transaction(engine, apply)


def delete_rows_of(engine: Engine, tries: Iterable[tuple[int, int]]) -> None:
    """Delete every row of the ended tries (ti_id, try number): their stop requests, and
    events no one will read (an end recorded just before the try was taken for lost)."""
    pairs = sorted(set(tries))
    if pairs:
        condition = or_(
            *(
                and_(ExecutionEvent.ti_id == ti_id, ExecutionEvent.try_number == try_number)
                for ti_id, try_number in pairs
            )
        )
        db_engine.run_in_transaction(
            engine, lambda s: s.execute(delete(ExecutionEvent).where(condition))
        )
