"""``/api/v2/backfills``: create (or preview) a backfill, list and read them, pause, unpause
and cancel one. Reading takes the Viewer role; changing, the User role (Airflow's).

As in Airflow, input the backfill cannot accept (a range outside the DAG's dates, a DAG
without a periodic schedule, conf its params refuse, ...) answers 422, in the shape the
document declares for 422 (a list of errors, each with ``loc``, ``msg`` and ``type``); a
backfill already completed or cancelled answers 409 to pause, unpause and cancel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Path, Request
from fastapi.exceptions import RequestValidationError

from tradewind.api import deps
from tradewind.api.deps import ApiSession, OrderBy, PageParams, Reader, Runner
from tradewind.api.schemas.backfills import (
    BackfillCollectionResponse,
    BackfillPostBody,
    BackfillResponse,
    DryRunBackfillCollectionResponse,
    DryRunBackfillResponse,
)
from tradewind.db.models import ReprocessBehavior
from tradewind.exceptions import InvalidArgument, ParamValidationError, ValueTooLarge
from tradewind.sdk import timezone
from tradewind.services import audit, backfill

router = APIRouter(
    prefix="/api/v2/backfills", tags=["Backfill"], generate_unique_id_function=deps.operation_id
)

BackfillId = Annotated[int, Path(ge=0)]
T = TypeVar("T")


def _unprocessable(action: Callable[[], T]) -> T:
    """``action()``, its refusal of the request's values turned into Airflow's 422."""
    try:
        return action()
    except ValueTooLarge:
        raise
    except (InvalidArgument, ParamValidationError) as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body",), "msg": str(exc), "input": None}]
        ) from None


@router.get("", response_model=BackfillCollectionResponse)
def list_backfills(
    session: ApiSession,
    user: Reader,
    page: PageParams,
    dag_id: str | None = None,
    order_by: OrderBy = None,
) -> BackfillCollectionResponse:
    """Backfills of ``dag_id`` (Airflow requires it; without it, of every DAG), by id unless
    ``order_by`` says otherwise."""
    infos, total = backfill.list_page(session, dag_id, order_by=order_by, page=page)
    return BackfillCollectionResponse(
        backfills=[BackfillResponse.of(i) for i in infos], total_entries=total
    )


@router.post("", response_model=BackfillResponse, responses={404: {"description": "No such DAG"}})
def create_backfill(
    body: BackfillPostBody, request: Request, session: ApiSession, user: Runner
) -> BackfillResponse:
    """Store a backfill and queue a run for each interval; the scheduler runs them."""
    info, _planned = _unprocessable(
        lambda: backfill.create(
            session,
            body.dag_id,
            start=timezone.coerce_utc(body.from_date),
            end=timezone.coerce_utc(body.to_date),
            reprocess=ReprocessBehavior(body.reprocess_behavior),
            max_active_runs=body.max_active_runs,
            run_backwards=body.run_backwards,
            conf=body.dag_run_conf,
            created_by=user.username,
            now=timezone.utcnow(),
        )
    )
    audit.record(
        session,
        "create_backfill",
        owner=user.username,
        dag_id=body.dag_id,
        extra={"backfill_id": info.id, **body.model_dump(mode="json", exclude_none=True)},
    )
    deps.wake_scheduler_after_commit(request, session)
    return BackfillResponse.of(info)


@router.post(
    "/dry_run",
    response_model=DryRunBackfillCollectionResponse,
    responses={404: {"description": "No such DAG"}},
)
def create_backfill_dry_run(
    body: BackfillPostBody, session: ApiSession, user: Runner
) -> DryRunBackfillCollectionResponse:
    """The logical dates a backfill with this body would run (create or re-run); changes nothing."""
    planned = _unprocessable(
        lambda: backfill.preview(
            session,
            body.dag_id,
            start=timezone.coerce_utc(body.from_date),
            end=timezone.coerce_utc(body.to_date),
            reprocess=ReprocessBehavior(body.reprocess_behavior),
            max_active_runs=body.max_active_runs,
            run_backwards=body.run_backwards,
            conf=body.dag_run_conf,
            now=timezone.utcnow(),
        )
    )
    found = [DryRunBackfillResponse.of(item) for item in planned if item.action != "skip"]
    return DryRunBackfillCollectionResponse(backfills=found, total_entries=len(found))


@router.get("/{backfill_id}", response_model=BackfillResponse)
def get_backfill(backfill_id: BackfillId, session: ApiSession, user: Reader) -> BackfillResponse:
    return BackfillResponse.of(backfill.get(session, backfill_id))


@router.put("/{backfill_id}/pause", response_model=BackfillResponse)
def pause_backfill(backfill_id: BackfillId, session: ApiSession, user: Runner) -> BackfillResponse:
    """Start no more of its runs; those already running go on."""
    info = backfill.set_paused(session, backfill_id, True)
    audit.record(
        session,
        "pause_backfill",
        owner=user.username,
        dag_id=info.dag_id,
        extra={"backfill_id": backfill_id},
    )
    return BackfillResponse.of(info)


@router.put("/{backfill_id}/unpause", response_model=BackfillResponse)
def unpause_backfill(
    backfill_id: BackfillId, request: Request, session: ApiSession, user: Runner
) -> BackfillResponse:
    info = backfill.set_paused(session, backfill_id, False)
    audit.record(
        session,
        "unpause_backfill",
        owner=user.username,
        dag_id=info.dag_id,
        extra={"backfill_id": backfill_id},
    )
    deps.wake_scheduler_after_commit(request, session)
    return BackfillResponse.of(info)


@router.put("/{backfill_id}/cancel", response_model=BackfillResponse)
def cancel_backfill(
    backfill_id: BackfillId, request: Request, session: ApiSession, user: Runner
) -> BackfillResponse:
    """Fail its runs not started yet and complete it; running tasks finish."""
    info = backfill.cancel(session, backfill_id)
    audit.record(
        session,
        "cancel_backfill",
        owner=user.username,
        dag_id=info.dag_id,
        extra={"backfill_id": backfill_id},
    )
    deps.wake_scheduler_after_commit(request, session)
    return BackfillResponse.of(info)
