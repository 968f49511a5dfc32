"""Signing in with a password, in steps that keep the costly part outside any transaction.

An argon2 check costs about 0.1 s of CPU. The caller reads the credentials (``find``), checks
the password with no transaction open (``password_matches``), then records the outcome in a
short write (``record_failure`` / ``record_success``). The check costs the same whether the
user exists or not, so the time of an answer does not tell which usernames exist.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tradewind.db.models import User
from tradewind.services import users


@dataclasses.dataclass(frozen=True)
class Credentials:
    """What a sign-in needs of a user row, read in its own short transaction."""

    user_id: int
    username: str
    role: str
    password_hash: str | None
    active: bool
    session_stamp: str


def find(session: Session, username: str) -> Credentials | None:
    row = session.execute(
        select(
            User.id, User.username, User.role, User.password_hash, User.active, User.session_stamp
        ).where(User.username == username)
    ).one_or_none()
    return Credentials(*row) if row is not None else None


def password_matches(credentials: Credentials | None, password: str) -> bool:
    """Whether ``password`` signs in this active user. Always one argon2 check: against a
    dummy hash when there is no such user or the user has no password."""
    stored = credentials.password_hash if credentials is not None else None
    matches = users.verify_password(stored or users.dummy_hash(), password)
    return matches and stored is not None and credentials is not None and credentials.active


def record_failure(session: Session, credentials: Credentials) -> None:
    """Count a failed attempt (one statement: concurrent failures are all counted)."""
    session.execute(
        update(User)
        .where(User.id == credentials.user_id)
        .values(failed_login_count=User.failed_login_count + 1)
    )


def record_success(session: Session, credentials: Credentials, now: datetime) -> bool:
    """Reset the failure count and note the login; False when the user was changed since
    ``find`` (new password, role, deactivation, deletion), which makes the sign-in fail."""
    result = session.execute(
        update(User)
        .where(
            User.id == credentials.user_id,
            User.session_stamp == credentials.session_stamp,
            User.active.is_(True),
        )
        .values(failed_login_count=0, last_login=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
