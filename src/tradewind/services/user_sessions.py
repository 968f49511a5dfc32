"""Server-side UI sessions, and ending every session and token of a user.

The UI's signed cookie holds a random secret; ``user_session`` holds its SHA-256 (a reader of
the database learns nothing that signs anyone in). A cookie is only as good as its row:
signing out deletes the row, so a copy of the cookie taken before stops working too.

``end_all`` is what a new password, a role change, a deactivation or a deletion calls: it
deletes the user's rows and replaces ``user.session_stamp``, which bearer tokens carry.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tradewind.db.models import User, UserSession
from tradewind.db.models.auth import new_session_stamp

#: How long a UI sign-in lasts, however active the browser (the cookie's max_age is the same).
LIFETIME = timedelta(days=14)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start(session: Session, user_id: int, now: datetime) -> str:
    """A new session of ``user_id``; returns the secret the cookie must hold.

    Sessions that expired are deleted on the way, so the table stays small without a job.
    """
    session.execute(delete(UserSession).where(UserSession.expires_at <= now))
    secret = secrets.token_urlsafe(32)
    session.add(
        UserSession(id=_digest(secret), user_id=user_id, created_at=now, expires_at=now + LIFETIME)
    )
    session.flush()
    return secret


def user_of(session: Session, secret: str, now: datetime) -> User | None:
    """The active user signed in by ``secret``, or None (unknown, ended or expired session)."""
    return session.scalar(
        select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            UserSession.id == _digest(secret), UserSession.expires_at > now, User.active.is_(True)
        )
    )


def end(session: Session, secret: str) -> None:
    """Sign one browser out (nothing happens when the session already ended)."""
    session.execute(delete(UserSession).where(UserSession.id == _digest(secret)))


def end_all(session: Session, user: User) -> None:
    """End every UI session and bearer token of ``user``."""
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    user.session_stamp = new_session_stamp()
