"""Which schema revision a database is at, read with plain SQL (no Alembic import).

Every command that opens the metastore checks its revision first; importing Alembic for that
cost more than the command's own work. ``HEAD`` names the newest migration of the tree in
``tradewind/db/migrations``; a test holds it equal to what Alembic computes.
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from tradewind.exceptions import MetastoreError

#: The newest revision of the migration tree. Update it with every new migration.
HEAD = "0006"
#: Alembic's bookkeeping table (its default name).
VERSION_TABLE = "alembic_version"


def current_revision(connection: Connection) -> str | None:
    """The revision recorded in the database; None when no migration has run."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if not rows:
        return None
    if len(rows) > 1:
        raise MetastoreError(
            f"the database records several schema revisions ({', '.join(sorted(rows))})"
        )
    return str(rows[0])
