"""Users and roles of the API server and UI."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tradewind.db.base import Base
from tradewind.db.types import UtcDateTime, utcnow

#: Roles seeded by the initial migration, most to least privileged (Airflow's names).
BUILTIN_ROLES: tuple[str, ...] = ("Admin", "Op", "User", "Viewer")


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
