"""Who is signed in to the UI, what they may do, and the CSRF token of their session.

The UI signs people in with the signed session cookie: it holds the secret of a server-side
session (``user_session``), so signing out, a new password, a role change or a deactivation
ends it. ``tradewind.api.deps`` resolves it, for pages and for the REST API. Every form
carries ``csrf_token``; every UI POST checks it against the token kept in the session (or the
``X-CSRF-Token`` header, for the few ``fetch`` calls), so another site cannot make a
signed-in browser change anything.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterator
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tradewind.api import deps
from tradewind.api.deps import CurrentUser
from tradewind.api.permissions import Action
from tradewind.db import engine as db_engine

CSRF_SESSION_KEY = deps.CSRF_SESSION_KEY
CSRF_FIELD = "csrf_token"
CSRF_HEADER = deps.CSRF_HEADER


class LoginRequired(Exception):
    """The page needs a signed-in user; the UI answers with a redirect to the login form."""

    def __init__(self, next_url: str) -> None:
        super().__init__("login required")
        self.next_url = next_url


class Forbidden(Exception):
    """The signed-in user's role does not allow the action."""


class CsrfError(Exception):
    """A POST without the session's CSRF token."""


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get(CSRF_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_SESSION_KEY] = token
    return str(token)


def rotate(request: Request, session_secret: str | None) -> None:
    """A fresh cookie for a sign-in (the new session's secret) or a sign-out (None): nothing of
    the old one is kept but the zone."""
    zone = request.session.get("timezone")
    request.session.clear()
    if session_secret is not None:
        request.session[deps.SESSION_ID_KEY] = session_secret
    if zone:
        request.session["timezone"] = zone
    request.session[CSRF_SESSION_KEY] = secrets.token_urlsafe(32)


async def check_csrf(request: Request) -> None:
    """Raise ``CsrfError`` unless the request carries the session's token."""
    expected = request.session.get(CSRF_SESSION_KEY)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise CsrfError(
            "The form has expired or did not come from this site: reload the page and try again."
        )


async def csrf_form(request: Request) -> FormData:
    """A dependency: the posted form, once its CSRF token has been checked."""
    await check_csrf(request)
    return await request.form()


def read_session(request: Request) -> Iterator[Session]:
    """A read-only transaction for one page (plain ``BEGIN`` on SQLite: never waits for writers).

    Pages depend on it with ``scope="function"``: the transaction (on PostgreSQL, the pool's
    connection) ends when the handler returns, not after a slow client took the whole response.
    """
    with db_engine.session_scope(request.app.state.engine, readonly=True) as session:
        yield session


def _next_url(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return path


def page_user(
    request: Request, session: Session = Depends(read_session, scope="function")
) -> CurrentUser:
    """The signed-in user, or ``LoginRequired`` (answered with a redirect to ``/login``)."""
    user = deps.user_from_request(request, session)
    if user is None:
        raise LoginRequired(_next_url(request) if request.method == "GET" else "/")
    request.state.ui_user = user
    return user


def can(action: Action) -> Callable[..., CurrentUser]:
    """A dependency: the signed-in user when their role allows ``action``, else ``Forbidden``."""

    def check(user: CurrentUser = Depends(page_user)) -> CurrentUser:
        if not user.can(action):
            raise Forbidden(f"Your role ({user.role}) may not {action.value.replace('_', ' ')}.")
        return user

    return check


def login_url(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="/")


def safe_next(value: str | None) -> str:
    """Only a path on this site: an open redirect would let a link send people elsewhere."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


FLASH_KEY = "flash"


def flash(request: Request, kind: str, message: str) -> None:
    """A message shown once on the next page (``ok``, ``error`` or ``warn``)."""
    messages = list(request.session.get(FLASH_KEY, []))
    messages.append([kind, message[:500]])
    request.session[FLASH_KEY] = messages[-5:]


def take_flashes(request: Request) -> list[tuple[str, str]]:
    messages = request.session.pop(FLASH_KEY, None) or []
    return [(str(kind), str(text)) for kind, text in messages]
