"""How UI forms change things: one retried write transaction, audited, then back to a page.

Every change a person makes from the UI goes through ``apply``: the service call and its
audit entry commit together (``run_in_transaction`` retries on lock errors), the scheduler
is woken when it has something to do, and the outcome becomes a message on the next page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tradewind import wakeup
from tradewind.api import errors
from tradewind.api.deps import CurrentUser
from tradewind.api.ui import session as ui_session
from tradewind.db import engine as db_engine
from tradewind.exceptions import TradewindError
from tradewind.services import audit

T = TypeVar("T")


def field(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value if isinstance(value, str) else default


def apply(
    request: Request,
    user: CurrentUser,
    event: str,
    change: Callable[[Session], T],
    *,
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    map_index: int | None = None,
    extra: Mapping[str, Any] | None = None,
    wake: bool = False,
) -> T:
    """Run ``change`` and record ``event`` in one transaction; errors pass through unchanged."""

    def work(session: Session) -> T:
        result = change(session)
        audit.record(
            session,
            event,
            owner=user.username,
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            map_index=map_index,
            extra={"source": "ui", **(extra or {})},
        )
        if wake:
            wakeup.notify_after_commit(session, request.app.state.settings.home)
        return result

    return db_engine.run_in_transaction(request.app.state.engine, work)


def apply_and_answer(
    request: Request,
    user: CurrentUser,
    event: str,
    change: Callable[[Session], Any],
    *,
    back_to: str,
    ok: str,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """``apply`` what a form posted, then answer with ``outcome``: ``ok``, or the error."""
    try:
        apply(request, user, event, change, extra=extra)
    except TradewindError as exc:
        return outcome(request, None, back_to, error=exc)
    return outcome(request, None, back_to, ok=ok)


def read(request: Request, query: Callable[[Session], T]) -> T:
    """A read-only transaction outside the page's own (for handlers that also write)."""
    return db_engine.run_in_transaction(request.app.state.engine, query, readonly=True)


def back(request: Request, form: FormData | None, default: str) -> RedirectResponse:
    target = field(form, "next") if form is not None else ""
    return RedirectResponse(ui_session.safe_next(target or default), status_code=303)


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def outcome(
    request: Request,
    form: FormData | None,
    default: str,
    *,
    ok: str | None = None,
    error: TradewindError | None = None,
    data: Mapping[str, Any] | None = None,
) -> Response:
    """The answer to a form post: JSON for scripts, else a message and a redirect."""
    if wants_json(request):
        if error is not None:
            return JSONResponse({"detail": str(error)}, status_code=errors.status_for(error))
        return JSONResponse(dict(data or {}))
    if error is not None:
        ui_session.flash(request, "error", str(error))
    elif ok:
        ui_session.flash(request, "ok", ok)
    return back(request, form, default)
