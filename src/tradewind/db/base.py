"""Declarative base and the MetaData every table hangs on.

The naming convention gives every index and constraint a deterministic name, so one Alembic
tree can create, compare and drop them identically on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import MetaData, Table
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Lengths shared by columns that hold the same kind of identifier.
ID_LEN = 250
STATE_LEN = 20


class Base(DeclarativeBase):
    """Base of every ORM model; ``Base.metadata`` is what Alembic compares against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    if TYPE_CHECKING:
        # Every model here is mapped to a table (SQLAlchemy types it as any FromClause).
        __table__: ClassVar[Table]
