"""Request dependencies: the metastore session, the signed-in user, permission checks.

A route handler gets a session whose transaction it owns for the request: committed when the
handler returns, rolled back when it raises. Handlers call services and return plain data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from tradewind.api.permissions import Action, allowed
from tradewind.db import engine as db_engine
from tradewind.db.models import User
from tradewind.services import users


@dataclasses.dataclass(frozen=True)
class CurrentUser:
    username: str
    role: str

    def can(self, action: Action) -> bool:
        return allowed(self.role, action)


def get_session(request: Request) -> Iterator[Session]:
    with db_engine.session_scope(request.app.state.engine) as session:
        yield session


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return None


def _user_from_request(request: Request, session: Session) -> CurrentUser | None:
    username: str | None = None
    token = _bearer(request)
    if token is not None:
        username = request.app.state.tokens.verify(token)
    elif "session" in request.scope:
        username = request.session.get("username")
    if not username:
        return None
    try:
        row: User = users.get_user(session, username)
    except users.UserNotFound:
        return None
    if not row.active:
        return None
    return CurrentUser(row.username, row.role)


def current_user(request: Request, session: Session = Depends(get_session)) -> CurrentUser:
    """The signed-in user, or 401."""
    user = _user_from_request(request, session)
    if user is None:
        raise HTTPException(status_code=401, detail="Not authenticated", headers={"WWW-Authenticate": "Bearer"})
    return user


def require(action: Action) -> Callable[..., CurrentUser]:
    """A dependency that lets the request through only when the user's role allows ``action``."""

    def check(user: CurrentUser = Depends(current_user)) -> CurrentUser:
        if not user.can(action):
            raise HTTPException(status_code=403, detail=f"Forbidden: role {user.role} may not {action.value.replace('_', ' ')}")
        return user

    return check
