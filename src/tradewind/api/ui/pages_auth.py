"""Signing in and out of the UI, and the viewer's time zone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from tradewind.api import deps, sign_in
from tradewind.api.deps import CurrentUser
from tradewind.api.ui import actions, formatting, templating
from tradewind.api.ui import session as ui_session
from tradewind.api.ui.routing import UIRoute
from tradewind.db import engine as db_engine
from tradewind.services import user_sessions

router = APIRouter(route_class=UIRoute, include_in_schema=False)


def _login_page(
    request: Request,
    *,
    next_url: str,
    username: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {"next": next_url, "username": username, "error": error}
    return templating.render(request, "login.html", context, status_code=status_code)


@router.get("/favicon.ico")
def favicon() -> Response:
    return RedirectResponse("/static/favicon.svg", status_code=301)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    next_url = ui_session.safe_next(next)
    if deps.SESSION_ID_KEY in request.session and db_engine.run_in_transaction(
        request.app.state.engine, lambda s: deps.session_user(request, s), readonly=True
    ):
        return RedirectResponse(next_url, status_code=303)
    return _login_page(request, next_url=next_url)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    next_url = ui_session.safe_next(actions.field(form, "next", "/"))
    username = actions.field(form, "username").strip()
    try:
        await ui_session.check_csrf(request)
    except ui_session.CsrfError:
        return _login_page(
            request,
            next_url=next_url,
            username=username,
            status_code=400,
            error="The sign-in form had expired. Please sign in again.",
        )
    password = actions.field(form, "password")
    signed_in = await sign_in.sign_in(request.app.state, username, password, open_ui_session=True)
    if signed_in is None or signed_in.ui_session_secret is None:
        return _login_page(
            request,
            next_url=next_url,
            username=username,
            status_code=401,
            error="Invalid username or password.",
        )
    ui_session.rotate(request, signed_in.ui_session_secret)
    return RedirectResponse(next_url, status_code=303)


@router.post("/logout")
async def logout(request: Request, form: FormData = Depends(ui_session.csrf_form)) -> Response:
    secret = request.session.get(deps.SESSION_ID_KEY)
    if isinstance(secret, str):
        await run_in_threadpool(
            db_engine.run_in_transaction,
            request.app.state.engine,
            lambda s: user_sessions.end(s, secret),
        )
    ui_session.rotate(request, None)
    ui_session.flash(request, "ok", "You have been signed out.")
    return RedirectResponse("/login", status_code=303)


@router.post("/timezone")
async def set_timezone(
    request: Request,
    form: FormData = Depends(ui_session.csrf_form),
    user: CurrentUser = Depends(ui_session.page_user),
) -> Response:
    zone = actions.field(form, "zone").strip()
    if zone and formatting.is_zone(zone):
        if zone == templating.default_zone_name(request):
            request.session.pop(templating.ZONE_SESSION_KEY, None)
        else:
            request.session[templating.ZONE_SESSION_KEY] = zone
    else:
        ui_session.flash(request, "error", f"Unknown time zone {zone!r}.")
    return RedirectResponse(ui_session.safe_next(actions.field(form, "next", "/")), status_code=303)
