"""Alembic environment, configured from code by ``tradewind.db.migrate``.

``migrate`` passes an open connection, already inside the migration's transaction, as
``config.attributes["connection"]``; no alembic.ini is read. For developers running the
``alembic`` command directly (e.g. ``alembic revision --autogenerate``), ``sqlalchemy.url``
in the given config is used instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from tradewind.db import engine as db_engine
from tradewind.db import models  # noqa: F401 - registers every table on the metadata
from tradewind.db.base import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        user_module_prefix="tradewind.db.types.",
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("run migrations through tradewind.db.migrate, or set sqlalchemy.url")
    engine = db_engine.create_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
_run_online()
