"""The DAG list (home page), pausing and triggering."""

from __future__ import annotations

import re
from datetime import timedelta, tzinfo
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tradewind.api.deps import CurrentUser
from tradewind.api.permissions import Action
from tradewind.api.ui import actions, models_dag_list, models_structure, templating, trigger_form
from tradewind.api.ui import session as ui_session
from tradewind.api.ui.routing import UIRoute
from tradewind.exceptions import TradewindError
from tradewind.sdk import timezone
from tradewind.services import dag_runs, dags, scheduler_health

router = APIRouter(route_class=UIRoute, include_in_schema=False)

PAGE_SIZES = (25, 50, 100, 250, 1000)


_PLAIN = re.compile(r"[A-Za-z0-9_.~:+@-]*\Z")


def path_part(value: str) -> str:
    """One path segment; ``:``, ``+`` and ``@`` stay as
    they are (legal in a path, and common in run ids)."""
    return value if _PLAIN.match(value) and value not in {".", ".."} else quote(value, safe=":+@")


def dag_url(dag_id: str, *parts: str) -> str:
    return "/dags/" + "/".join(path_part(p) for p in (dag_id, *parts))


def scheduler_warning(session: Session, request: Request) -> bool:
    """True when no scheduler has sent a heartbeat recently (shown as a banner, like Airflow)."""
    limit = float(request.app.state.settings.get("scheduler", "heartbeat_timeout"))
    return not scheduler_health.scheduler_alive(session, timedelta(seconds=limit))


def run_marks(listing: models_dag_list.DagListPage, zone: tzinfo) -> dict[str, list[list[Any]]]:
    """The recent-runs bars of each DAG (see ``_bars``).

    Sent as one JSON document the page's script draws: building 10,000 bars in the template
    cost more than the rest of the page together.
    """
    return {item.dag_id: _bars(list(item.recent_runs), zone) for item in listing.items}


def _bars(runs: list[models_dag_list.RunMark], zone: tzinfo) -> list[list[Any]]:
    """``[run path, state, height px, epoch seconds, duration]``; the script writes the tooltip."""
    longest = max((run.duration or 0.0 for run in runs), default=0.0)
    bars = []
    for run in runs:
        duration = run.duration
        height = int(6 + 16 * (duration or 0.0) / longest) if longest else 12
        when = int(run.when.timestamp()) if run.when is not None else None
        bars.append(
            [
                path_part(run.run_id),
                run.state,
                height,
                when,
                round(duration, 2) if duration is not None else None,
            ]
        )
    return bars


@router.get("/")
def home() -> Response:
    return RedirectResponse("/dags", status_code=307)


@router.get("/dags")
def dag_list(
    request: Request,
    q: str = "",
    tags: list[str] = Query(default=[]),
    status: str = "all",
    page: int = 1,
    page_size: int = 50,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    if status not in {"all", "active", "paused"}:
        status = "all"
    if page_size not in PAGE_SIZES:
        page_size = 50
    listing = models_dag_list.dag_list(
        session, search=q.strip(), tags=tags, status=status, page=page, page_size=page_size
    )
    context: dict[str, Any] = {
        "listing": listing,
        "marks": run_marks(listing, templating.ui_zone(request)),
        "q": q,
        "tags": tags,
        "status": status,
        "page_size": page_size,
        "page_sizes": PAGE_SIZES,
        "can_run": user.can(Action.RUN),
        "dag_url": dag_url,
        "path_part": path_part,
        "no_scheduler": scheduler_warning(session, request),
        "section": "dags",
    }
    return templating.render(request, "dags.html", context)


@router.get("/dags/recent.json")
def recent_json(
    request: Request,
    ids: str = "",
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    """The DAG list's poll: recent runs of the DAGs on the page (at most 100)."""
    dag_ids = [dag_id for dag_id in ids.split(",") if dag_id][:100]
    runs = models_dag_list.recent_runs(session, dag_ids)
    zone = templating.ui_zone(request)
    return JSONResponse(
        {dag_id: _bars(runs.get(dag_id, []), zone) for dag_id in dag_ids},
        headers={"Cache-Control": "no-store"},
    )


@router.post("/dags/{dag_id}/pause")
def pause(
    request: Request,
    dag_id: str,
    user: CurrentUser = Depends(ui_session.can(Action.RUN)),
    form: FormData = Depends(ui_session.csrf_form),
) -> Response:
    paused = actions.field(form, "paused").lower() in {"true", "1", "on", "yes"}
    try:
        info = actions.apply(
            request,
            user,
            "pause" if paused else "unpause",
            lambda s: dags.set_paused(s, dag_id, paused, now=timezone.utcnow()),
            dag_id=dag_id,
            wake=True,
        )
    except TradewindError as exc:
        return actions.outcome(request, form, dag_url(dag_id), error=exc)
    word = "paused" if info.is_paused else "unpaused"
    return actions.outcome(
        request,
        form,
        dag_url(dag_id),
        ok=f"DAG {dag_id} {word}.",
        data={"dag_id": dag_id, "is_paused": info.is_paused},
    )


@router.get("/dags/{dag_id}/trigger")
def trigger_page(
    request: Request,
    dag_id: str,
    user: CurrentUser = Depends(ui_session.can(Action.RUN)),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    shape = models_structure.latest_shape(session, dag_id)
    return _trigger_page(request, shape, trigger_form.TriggerForm.defaults(shape))


def _trigger_page(
    request: Request,
    shape: models_structure.DagShape,
    form: trigger_form.TriggerForm,
    status_code: int = 200,
) -> Response:
    context = {
        "shape": shape,
        "form": form,
        "dag_url": dag_url,
        "section": "dags",
        "next": request.query_params.get("next") or dag_url(shape.dag_id),
    }
    return templating.render(request, "trigger.html", context, status_code=status_code)


@router.post("/dags/{dag_id}/trigger")
def trigger(
    request: Request,
    dag_id: str,
    user: CurrentUser = Depends(ui_session.can(Action.RUN)),
    form: FormData = Depends(ui_session.csrf_form),
) -> Response:
    shape = actions.read(request, lambda s: models_structure.latest_shape(s, dag_id))
    has_form = actions.field(form, "form") == "1"
    typed, wanted = trigger_form.read(shape, form, templating.ui_zone(request))
    if wanted is None:
        return _trigger_page(request, shape, typed, status_code=400)

    def create(s: Session) -> dag_runs.RunInfoRow:
        dag_runs.check_triggerable(s, dag_id)
        return dag_runs.trigger(
            s,
            dag_id,
            conf=wanted.conf,
            run_id=wanted.run_id,
            logical_date=wanted.logical_date,
            now=timezone.utcnow(),
            triggered_by="ui",
            note=wanted.note,
        )

    try:
        run = actions.apply(
            request, user, "trigger", create, dag_id=dag_id, extra={"conf": wanted.conf}, wake=True
        )
    except TradewindError as exc:
        if has_form:
            typed.error = str(exc)
            return _trigger_page(request, shape, typed, status_code=400)
        return actions.outcome(request, form, dag_url(dag_id), error=exc)
    return actions.outcome(
        request,
        form,
        dag_url(dag_id),
        ok=f"Triggered {dag_id}: run {run.run_id} is queued.",
        data={"dag_id": dag_id, "run_id": run.run_id},
    )
