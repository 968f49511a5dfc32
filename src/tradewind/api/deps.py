"""Request dependencies: the metastore session, the signed-in user, permission checks.

A route handler gets a session whose transaction it owns for the request: committed when the
handler returns, rolled back when it raises. Handlers call services and return plain data.
"""

from __future__ import annotations

import base64
import dataclasses
import hmac
import inspect
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.routing import APIRoute
from itsdangerous import URLSafeSerializer
from sqlalchemy.orm import Session

from tradewind import wakeup
from tradewind.api.permissions import Action, allowed
from tradewind.api.schemas.common import IsoDatetime
from tradewind.api.security import secret_key
from tradewind.config import Settings
from tradewind.db import engine as db_engine
from tradewind.db.models import User
from tradewind.sdk import timezone
from tradewind.services import paging, user_sessions, users
from tradewind.services.secrets import SecretCipher


@dataclasses.dataclass(frozen=True)
class CurrentUser:
    username: str
    role: str

    def can(self, action: Action) -> bool:
        return allowed(self.role, action)


#: Key of the UI session cookie that holds the secret of the server-side session.
SESSION_ID_KEY = "session_id"
#: Key of the cookie's CSRF token, and the header that scripts send it in.
CSRF_SESSION_KEY = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return None


def token_user(request: Request, session: Session, token: str) -> CurrentUser | None:
    """The active user a bearer token names, if the token's session stamp is still theirs."""
    claims = request.app.state.tokens.verify(token)
    if claims is None:
        return None
    try:
        row: User = users.get_user(session, claims.username)
    except users.UserNotFound:
        return None
    if not row.active or not hmac.compare_digest(row.session_stamp, claims.session_stamp):
        return None
    return CurrentUser(row.username, row.role)


def session_user(request: Request, session: Session) -> CurrentUser | None:
    """The user signed in by the UI session cookie; a cookie whose session ended loses its id."""
    if "session" not in request.scope:
        return None
    secret = request.session.get(SESSION_ID_KEY)
    if not isinstance(secret, str):
        return None
    row = user_sessions.user_of(session, secret, timezone.utcnow())
    if row is None:
        request.session.pop(SESSION_ID_KEY, None)
        return None
    return CurrentUser(row.username, row.role)


def user_from_request(request: Request, session: Session) -> CurrentUser | None:
    """The user of a bearer token when the request has one, else of the UI session cookie."""
    token = _bearer(request)
    if token is not None:
        return token_user(request, session, token)
    return session_user(request, session)


def csrf_header_matches(request: Request) -> bool:
    """Whether the request's ``X-CSRF-Token`` header is its UI session's CSRF token."""
    expected = request.session.get(CSRF_SESSION_KEY) if "session" in request.scope else None
    sent = request.headers.get(CSRF_HEADER)
    return bool(expected and sent and hmac.compare_digest(str(expected), sent))


# -- REST API dependencies --------------------------------------------------------------------
#
# ``ApiSession`` is function-scoped: its transaction commits when the handler returns and
# before the response is sent, so a failed commit becomes an error response instead of a 200
# for a change that was never stored. GET requests get a read-only transaction (on SQLite a
# plain BEGIN, which does not queue behind the scheduler for the write lock). The user and
# permission checks below share the same session, so a request holds one transaction.


def get_api_session(request: Request) -> Iterator[Session]:
    readonly = request.method in ("GET", "HEAD")
    with db_engine.session_scope(request.app.state.engine, readonly=readonly) as session:
        yield session


ApiSession = Annotated[Session, Depends(get_api_session, scope="function")]


def api_user(request: Request, session: ApiSession) -> CurrentUser:
    """The user named by the bearer token (or the UI session cookie), or 401.

    A browser sends the cookie with requests another site makes it send, so a change signed
    in by the cookie alone must also carry the session's CSRF token in ``X-CSRF-Token``
    (as the UI's scripts do); API clients use bearer tokens and need none.
    """
    user = user_from_request(request, session)
    if user is None:
        raise HTTPException(
            status_code=401, detail="Not authenticated", headers={"WWW-Authenticate": "Bearer"}
        )
    if (
        _bearer(request) is None
        and request.method not in SAFE_METHODS
        and not csrf_header_matches(request)
    ):
        raise HTTPException(
            status_code=403,
            detail=(
                "CSRF token missing or wrong: a change signed in with the UI's session cookie must "
                "send the session's token in the X-CSRF-Token header; API clients should use a "
                "bearer token from POST /auth/token"
            ),
        )
    return user


def allowed_user(action: Action) -> Callable[..., CurrentUser]:
    """A dependency giving the signed-in user when their role allows ``action``, else 403."""

    def check(user: Annotated[CurrentUser, Depends(api_user)]) -> CurrentUser:
        if not user.can(action):
            raise HTTPException(
                status_code=403,
                detail=f"Forbidden: role {user.role} may not {action.value.replace('_', ' ')}",
            )
        return user

    return check


Reader = Annotated[CurrentUser, Depends(allowed_user(Action.READ))]
Runner = Annotated[CurrentUser, Depends(allowed_user(Action.RUN))]
ConfigEditor = Annotated[CurrentUser, Depends(allowed_user(Action.EDIT_CONFIG))]


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def cipher(request: Request) -> SecretCipher:
    """The Fernet cipher of the server's settings, made once per app."""
    state = request.app.state
    found = getattr(state, "tradewind_api_cipher", None)
    if found is None:
        found = SecretCipher.from_settings(state.settings)
        state.tradewind_api_cipher = found
    return found


def signer(request: Request, salt: str) -> URLSafeSerializer:
    """Signs small values handed to clients (file tokens, log continuation tokens)."""
    state = request.app.state
    key = getattr(state, "tradewind_api_signing_key", None)
    if key is None:
        key = secret_key(state.settings)
        state.tradewind_api_signing_key = key
    return URLSafeSerializer(key, salt=salt)


def wake_scheduler_after_commit(request: Request, session: Session) -> None:
    """Tell the scheduler to look now, once this request's transaction has committed."""
    wakeup.notify_after_commit(session, request.app.state.settings.home)


def wake_dag_processor_after_commit(request: Request, session: Session) -> None:
    """Tell the DAG processor to scan now (a deleted DAG's file), once this request's
    transaction has committed."""
    wakeup.notify_after_commit(session, request.app.state.settings.home, wakeup.DAG_PROCESSOR)


def page_params(
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int | None, Query(ge=0)] = None,
) -> paging.Page:
    """``limit`` and ``offset`` of a listing (Airflow's defaults and maximum)."""
    return paging.Page.of(limit, offset)


PageParams = Annotated[paging.Page, Depends(page_params)]
OrderBy = Annotated[
    list[str] | None, Query(description="Attributes to order by; prefix with `-` for descending.")
]


def cursor_page(cursor: str | None, page: paging.Page) -> paging.Page:
    """Keyset-style paging as the client sees it: the cursor is an opaque, encoded offset."""
    if not cursor:
        return paging.Page(limit=page.limit, offset=0) if cursor == "" else page
    try:
        offset = int(
            base64.urlsafe_b64decode(cursor.encode() + b"==").decode().removeprefix("offset:")
        )
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(
            status_code=400, detail="Invalid cursor: use only the cursors returned by the API"
        ) from None
    return paging.Page(limit=page.limit, offset=max(0, offset))


def cursors(cursor: str | None, page: paging.Page, total: int) -> tuple[str | None, str | None]:
    """``(next_cursor, previous_cursor)`` when the request used a cursor, else ``(None, None)``."""
    if cursor is None:
        return None, None

    def encode(offset: int) -> str:
        return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")

    following = encode(page.offset + page.limit) if page.offset + page.limit < total else None
    previous = encode(max(0, page.offset - page.limit)) if page.offset > 0 else None
    return following, previous


def all_or(value: str) -> str | None:
    """Airflow's ``~`` in a path: every DAG, run or task."""
    return None if value == "~" else value


def preferred_media_type(request: Request, supported: tuple[str, ...]) -> str:
    """The first of ``supported`` the Accept header prefers (by q, then order); else the first."""
    header = request.headers.get("accept", "")
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media:
            choices.append((-quality, index, media.strip().lower()))
    for _, _, media in sorted(choices):
        if media in supported:
            return media
        if media in ("*/*", "application/*"):
            return supported[0]
    return supported[0]


def range_query(name: str) -> Callable[..., paging.Range]:
    """A dependency reading ``<name>_gte``, ``_gt``, ``_lte`` and ``_lt`` datetime query parameters.

    Datetimes without a zone are taken as UTC.
    """

    def dependency(**bounds: datetime | None) -> paging.Range:
        return paging.Range(
            **{key.rsplit("_", 1)[1]: timezone.coerce_utc(value) for key, value in bounds.items()}
        )

    signature = inspect.Signature(
        [
            inspect.Parameter(
                f"{name}_{bound}",
                inspect.Parameter.KEYWORD_ONLY,
                default=Query(None),
                annotation=IsoDatetime | None,
            )
            for bound in ("gte", "gt", "lte", "lt")
        ]
    )
    # FastAPI reads a function's __signature__; typeshed does not declare it on functions.
    dependency.__signature__ = signature  # type: ignore[attr-defined]  # see above
    dependency.__name__ = f"{name}_range"
    return dependency


RunAfterRange = Annotated[paging.Range, Depends(range_query("run_after"))]
LogicalDateRange = Annotated[paging.Range, Depends(range_query("logical_date"))]
StartDateRange = Annotated[paging.Range, Depends(range_query("start_date"))]
EndDateRange = Annotated[paging.Range, Depends(range_query("end_date"))]
UpdatedAtRange = Annotated[paging.Range, Depends(range_query("updated_at"))]


def operation_id(route: APIRoute) -> str:
    """OpenAPI operationId = the handler's name, as in Airflow's document (``get_dags``)."""
    return route.name
