"""The Workers page: the celery workers seen recently (``services.workers``), kept current by
polling ``/workers.json``. With the local executor it says so and lists none: tries then run
on the scheduler's host, and there is no worker to show."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from tradewind.api.deps import CurrentUser
from tradewind.api.ui import formatting, templating
from tradewind.api.ui import session as ui_session
from tradewind.api.ui.routing import UIRoute
from tradewind.sdk import timezone
from tradewind.services import workers

router = APIRouter(route_class=UIRoute, include_in_schema=False)

#: Milliseconds between two polls of the page.
REFRESH_MS = 5000


@dataclasses.dataclass(frozen=True)
class WorkersListing:
    """What both the page and its poll show: the executor and the workers seen recently."""

    executor: str
    workers: list[workers.WorkerInfo]


def listing(
    request: Request,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> WorkersListing:
    """The listing for a signed-in user; no workers unless the executor is celery."""
    settings = request.app.state.settings
    executor = workers.executor_kind(session, settings)
    if executor != "celery":
        return WorkersListing(executor, [])
    window = workers.WorkerWindow.from_settings(settings)
    return WorkersListing(
        executor, workers.list_workers(session, now=timezone.utcnow(), window=window)
    )


@router.get("/workers")
def workers_page(request: Request, shown: WorkersListing = Depends(listing)) -> Response:
    seen = float(request.app.state.settings.get("celery", "worker_seen_window"))
    return templating.render(
        request,
        "workers.html",
        {
            "executor": shown.executor,
            "workers": shown.workers,
            "seen_for": formatting.fmt_duration(seen),
            "refresh_ms": REFRESH_MS,
            "section": "browse",
        },
    )


@router.get("/workers.json")
def workers_json(shown: WorkersListing = Depends(listing)) -> Response:
    """The page's poll: the same listing as JSON."""
    return JSONResponse(
        {
            "executor": shown.executor,
            "workers": [_as_json(info) for info in shown.workers],
        },
        headers={"Cache-Control": "no-store"},
    )


def _as_json(info: workers.WorkerInfo) -> dict[str, Any]:
    row = dataclasses.asdict(info)
    row.update(
        state=info.state.value,
        started_at=formatting.iso(info.started_at),
        last_heartbeat=formatting.iso(info.last_heartbeat),
    )
    return row
