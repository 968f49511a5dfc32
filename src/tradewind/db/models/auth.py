"""Users and roles of the API server and UI, and the UI's server-side sessions."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tradewind.db.base import Base
from tradewind.db.types import UtcDateTime, utcnow

#: Roles seeded by the initial migration, most to least privileged (Airflow's names).
BUILTIN_ROLES: tuple[str, ...] = ("Admin", "Op", "User", "Viewer")


def new_session_stamp() -> str:
    """A fresh random ``User.session_stamp``."""
    return secrets.token_hex(16)


class Role(Base):
    """A named set of permissions; what each role may do is decided in ``api``."""

    __tablename__ = "role"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class User(Base):
    """A person who signs in. ``password_hash`` is an argon2 hash, never the password."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(256), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(256))
    last_name: Mapped[str | None] = mapped_column(String(256))
    password_hash: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The role's name rather than its id: readable in SQL, and renaming roles is not a feature.
    role: Mapped[str] = mapped_column(ForeignKey("role.name", onupdate="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)
    # Bearer tokens carry the stamp they were issued with and are refused once it changes: a
    # new password, role or deactivation replaces it. Random rather than a counter, so a user
    # deleted and created again under the same name (and, on SQLite, maybe the same id)
    # cannot be reached by the old user's tokens.
    session_stamp: Mapped[str] = mapped_column(String(32), default=new_session_stamp)


class UserSession(Base):
    """One signed-in UI browser. The cookie holds a random secret; this row holds its SHA-256,
    so signing out (deleting the row) ends a cookie that may have been copied."""

    __tablename__ = "user_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
