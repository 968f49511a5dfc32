"""Users of the UI and API: create, list, delete, reset passwords (argon2 hashes only).

A new password and a deletion end the user's UI sessions and bearer tokens
(``user_sessions.end_all``).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db.models import BUILTIN_ROLES, User
from tradewind.exceptions import AlreadyExists, InvalidArgument, TradewindError
from tradewind.services import user_sessions

_hasher = PasswordHasher()
_USERNAME = re.compile(r"[A-Za-z0-9_.@+-]{1,256}")  # the whole name must match (fullmatch)


class UserNotFound(TradewindError):
    """No such user."""


@dataclasses.dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    email: str | None
    first_name: str | None
    last_name: str | None
    role: str
    active: bool
    created_at: datetime | None
    last_login: datetime | None


def user_info(row: User) -> UserInfo:
    """A user row as shown (no password hash)."""
    return UserInfo(
        row.id,
        row.username,
        row.email,
        row.first_name,
        row.last_name,
        row.role,
        row.active,
        row.created_at,
        row.last_login,
    )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def dummy_hash() -> str:
    """A hash of a random password made like real ones: checking a password against it costs
    what checking a real user's does, so the time of an answer does not tell who exists."""
    return _dummy_hash_of(_hasher)


@functools.lru_cache(maxsize=1)
def _dummy_hash_of(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def check_role(role: str) -> str:
    """The built-in role named ``role`` (any case); ``InvalidArgument`` otherwise."""
    for name in BUILTIN_ROLES:
        if name.lower() == role.lower():
            return name
    raise InvalidArgument(f"unknown role {role!r}; expected one of {', '.join(BUILTIN_ROLES)}")


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
) -> UserInfo:
    if not _USERNAME.fullmatch(username or ""):
        raise InvalidArgument(f"invalid username {username!r}: use letters, digits and . _ @ + -")
    if not password:
        raise InvalidArgument("the password must not be empty")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AlreadyExists(f"user {username!r} already exists")
    row = User(
        username=username,
        password_hash=hash_password(password),
        role=check_role(role),
        email=email,
        first_name=first_name,
        last_name=last_name,
        active=True,
    )
    session.add(row)
    session.flush()
    return user_info(row)


def get_user(session: Session, username: str) -> User:
    row = session.scalar(select(User).where(User.username == username))
    if row is None:
        raise UserNotFound(f"user {username!r} does not exist")
    return row


def list_users(session: Session) -> list[UserInfo]:
    return [user_info(row) for row in session.scalars(select(User).order_by(User.username))]


def delete_user(session: Session, username: str) -> None:
    row = get_user(session, username)
    user_sessions.end_all(session, row)
    session.delete(row)


def reset_password(session: Session, username: str, password: str) -> None:
    if not password:
        raise InvalidArgument("the password must not be empty")
    row = get_user(session, username)
    row.password_hash = hash_password(password)
    row.failed_login_count = 0
    user_sessions.end_all(session, row)


def has_user(session: Session, username: str) -> bool:
    return session.scalar(select(User.id).where(User.username == username)) is not None
