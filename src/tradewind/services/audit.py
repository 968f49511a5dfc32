"""The audit log: one ``log`` row per change a person makes (API call, form action, command).

``record`` adds the row in the caller's transaction, so the entry exists exactly when the
change it describes was committed. Values of sensitive fields (passwords, tokens) are masked
before they are stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db.models import Log
from tradewind.exceptions import TradewindError
from tradewind.sdk import timezone
from tradewind.services import paging
from tradewind.services.secrets import MASK, is_sensitive

_EVENT_LEN = 60


class EventLogNotFound(TradewindError):
    """No such audit log entry."""


@dataclasses.dataclass(frozen=True)
class EventFilter:
    """What ``list_events`` returns; None means no restriction."""

    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None
    owner: str | None = None
    event: str | None = None
    included_events: Sequence[str] | None = None
    excluded_events: Sequence[str] | None = None
    before: datetime | None = None
    after: datetime | None = None
    dag_id_pattern: str | None = None
    task_id_pattern: str | None = None
    run_id_pattern: str | None = None
    owner_pattern: str | None = None
    event_pattern: str | None = None


ORDER_COLUMNS: Mapping[str, Any] = {
    "id": Log.id,
    "event_log_id": Log.id,
    "dttm": Log.dttm,
    "when": Log.dttm,
    "dag_id": Log.dag_id,
    "task_id": Log.task_id,
    "run_id": Log.run_id,
    "event": Log.event,
    "owner": Log.owner,
    "map_index": Log.map_index,
    "try_number": Log.try_number,
}


def masked(extra: Any) -> Any:
    """``extra`` with the values of sensitive keys (at any depth) replaced by ``***``."""
    if isinstance(extra, Mapping):
        return {
            key: (MASK if is_sensitive(str(key)) and value is not None else masked(value))
            for key, value in extra.items()
        }
    if isinstance(extra, list):
        return [masked(item) for item in extra]
    return extra


def record(
    session: Session,
    event: str,
    *,
    owner: str | None,
    dag_id: str | None = None,
    task_id: str | None = None,
    run_id: str | None = None,
    map_index: int | None = None,
    try_number: int | None = None,
    extra: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Log:
    """Add one audit entry to the session (the caller commits it with the change)."""
    row = Log(
        dttm=now or timezone.utcnow(),
        event=event[:_EVENT_LEN],
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        map_index=map_index,
        try_number=try_number,
        owner=owner,
        extra=masked(dict(extra)) if extra else None,
    )
    session.add(row)
    return row


def list_events(
    session: Session, where: EventFilter, *, order_by: str | Sequence[str] | None, page: paging.Page
) -> tuple[list[Log], int]:
    """One page of audit entries, newest first unless ``order_by`` says otherwise."""
    query = paging.where_all(
        select(Log),
        [
            Log.dag_id == where.dag_id if where.dag_id is not None else None,
            Log.task_id == where.task_id if where.task_id is not None else None,
            Log.run_id == where.run_id if where.run_id is not None else None,
            Log.map_index == where.map_index if where.map_index is not None else None,
            Log.try_number == where.try_number if where.try_number is not None else None,
            Log.owner == where.owner if where.owner is not None else None,
            Log.event == where.event if where.event is not None else None,
            Log.event.in_(list(where.included_events)) if where.included_events else None,
            Log.event.not_in(list(where.excluded_events)) if where.excluded_events else None,
            Log.dttm < where.before if where.before is not None else None,
            Log.dttm > where.after if where.after is not None else None,
            paging.pattern(Log.dag_id, where.dag_id_pattern),
            paging.pattern(Log.task_id, where.task_id_pattern),
            paging.pattern(Log.run_id, where.run_id_pattern),
            paging.pattern(Log.owner, where.owner_pattern),
            paging.pattern(Log.event, where.event_pattern),
        ],
    )
    order = paging.order_clauses(order_by, ORDER_COLUMNS, default=["-id"], tie_breaker=Log.id)
    return paging.paginate(session, query, order, page)


def get_event(session: Session, event_id: int) -> Log:
    row = session.get(Log, event_id)
    if row is None:
        raise EventLogNotFound(f"The Event Log with id: `{event_id}` not found")
    return row
