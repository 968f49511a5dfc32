"""Insert-or-update in one statement, on both backends.

Select-then-insert races with a concurrent writer and fails on the unique key; ``INSERT ...
ON CONFLICT DO UPDATE`` (SQLite >= 3.24 and PostgreSQL) does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tradewind.db.base import Base


def upsert(
    session: Session,
    model: type[Base],
    values: Mapping[str, Any],
    *,
    key: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert ``values`` into ``model``'s table, or update columns ``update`` of the row
    that already has the same ``key`` columns. Python-side column defaults apply to inserts.
    """
    table = model.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=list(key),
        set_={column: statement.excluded[column] for column in update},
    )
    session.execute(statement)
