"""``/api/v2/eventLogs``: the audit log of changes people made."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tradewind.api import deps
from tradewind.api.deps import ApiSession, OrderBy, PageParams, Reader
from tradewind.api.schemas.common import IsoDatetime
from tradewind.api.schemas.monitoring import EventLogCollectionResponse, EventLogResponse
from tradewind.sdk import timezone
from tradewind.services import audit

router = APIRouter(
    prefix="/api/v2/eventLogs", tags=["Event Log"], generate_unique_id_function=deps.operation_id
)

ListQuery = Annotated[list[str] | None, Query()]


@router.get("", response_model=EventLogCollectionResponse)
def get_event_logs(
    session: ApiSession,
    user: Reader,
    page: PageParams,
    order_by: OrderBy = None,
    dag_id: str | None = None,
    task_id: str | None = None,
    run_id: str | None = None,
    map_index: int | None = None,
    try_number: int | None = None,
    owner: str | None = None,
    event: str | None = None,
    excluded_events: ListQuery = None,
    included_events: ListQuery = None,
    before: IsoDatetime | None = None,
    after: IsoDatetime | None = None,
    dag_id_pattern: str | None = None,
    task_id_pattern: str | None = None,
    run_id_pattern: str | None = None,
    owner_pattern: str | None = None,
    event_pattern: str | None = None,
) -> EventLogCollectionResponse:
    """Audit entries, newest first unless ``order_by`` says otherwise."""
    where = audit.EventFilter(
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        map_index=map_index,
        try_number=try_number,
        owner=owner,
        event=event,
        included_events=included_events,
        excluded_events=excluded_events,
        before=timezone.coerce_utc(before),
        after=timezone.coerce_utc(after),
        dag_id_pattern=dag_id_pattern,
        task_id_pattern=task_id_pattern,
        run_id_pattern=run_id_pattern,
        owner_pattern=owner_pattern,
        event_pattern=event_pattern,
    )
    rows, total = audit.list_events(session, where, order_by=order_by, page=page)
    return EventLogCollectionResponse(
        event_logs=[EventLogResponse.of(row) for row in rows], total_entries=total
    )


@router.get("/{event_log_id}", response_model=EventLogResponse)
def get_event_log(event_log_id: int, session: ApiSession, user: Reader) -> EventLogResponse:
    return EventLogResponse.of(audit.get_event(session, event_log_id))
