"""``/api/v2/workers``: the celery workers seen recently, with their queues, running tries and
last heartbeat (``services.workers``); read by anyone who may read DAGs."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tradewind.api import deps
from tradewind.api.deps import ApiSession, Reader
from tradewind.api.schemas.workers import WorkerCollectionResponse, WorkerResponse
from tradewind.sdk import timezone
from tradewind.services import workers

router = APIRouter(
    prefix="/api/v2/workers", tags=["Worker"], generate_unique_id_function=deps.operation_id
)


@router.get("", response_model=WorkerCollectionResponse)
def get_workers(request: Request, session: ApiSession, user: Reader) -> WorkerCollectionResponse:
    """The workers seen within ``[celery] worker_seen_window``, by name; none with the local
    executor."""
    window = workers.WorkerWindow.from_settings(request.app.state.settings)
    found = workers.list_workers(session, now=timezone.utcnow(), window=window)
    return WorkerCollectionResponse(
        workers=[WorkerResponse.of(info) for info in found], total_entries=len(found)
    )
