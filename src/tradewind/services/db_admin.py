"""Opening the metastore from settings, and the ``db`` verbs (migrate, check, reset).

Entry points (CLI commands, servers) call ``open_engine`` once, or ``run`` for a one-shot
transaction; both bring a brand-new database up to date on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.config import Settings
from tradewind.db import engine as db_engine
from tradewind.db import migrate as db_migrate
from tradewind.db.migrate import SchemaStatus

T = TypeVar("T")


def open_engine(settings: Settings, *, auto_migrate: bool = True) -> Engine:
    """The metastore engine; with ``auto_migrate``, ready to use (see ``ensure_schema``)."""
    engine = db_engine.engine_from_settings(settings)
    if auto_migrate:
        try:
            ensure_schema(engine, settings)
        except BaseException:
            engine.dispose()
            raise
    return engine


def ensure_schema(engine: Engine, settings: Settings) -> SchemaStatus:
    """Create the schema of a new (empty) database; refuse one at another revision.

    Decision: Airflow makes users run ``db migrate`` before anything else. Tradewind creates
    the tables itself when the database has none, so ``tradewind variables set`` works on a
    fresh ``$TRADEWIND_HOME``. A database at an older revision is NOT upgraded implicitly:
    upgrading an existing metastore (possibly shared with running schedulers on other
    machines) stays a deliberate ``tradewind db migrate``. ``SchemaNotCurrent`` says so.
    """
    found = db_migrate.status(engine)
    if found.is_empty:
        return db_migrate.migrate(engine, default_pool_slots=_default_pool_slots(settings))
    return db_migrate.require_current(found)


def run(settings: Settings, fn: Callable[[Session], T], *, readonly: bool = False) -> T:
    """Open the metastore, run ``fn(session)`` in one retried transaction, close it again.

    For one-shot callers such as CLI commands; long-lived processes keep an engine from
    ``open_engine`` and use ``tradewind.db.engine.run_in_transaction``.
    """
    engine = open_engine(settings)
    try:
        return db_engine.run_in_transaction(engine, fn, readonly=readonly)
    finally:
        engine.dispose()


def migrate(settings: Settings) -> SchemaStatus:
    """Upgrade the metastore to head (``tradewind db migrate``)."""
    return _with_engine(
        settings, lambda e: db_migrate.migrate(e, default_pool_slots=_default_pool_slots(settings))
    )


def check(settings: Settings) -> SchemaStatus:
    """Reachable and at head, or ``MetastoreError`` saying what is wrong (``db check``)."""
    return _with_engine(settings, db_migrate.check)


def reset(settings: Settings) -> SchemaStatus:
    """Drop every table and migrate again (``tradewind db reset``)."""
    return _with_engine(
        settings, lambda e: db_migrate.reset(e, default_pool_slots=_default_pool_slots(settings))
    )


def downgrade(settings: Settings, revision: str) -> SchemaStatus:
    """Downgrade to ``revision`` (``tradewind db downgrade``)."""
    return _with_engine(settings, lambda e: db_migrate.downgrade(e, revision))


def describe(settings: Settings) -> str:
    """The metastore URL with its password hidden, for messages."""
    return db_engine.normalize_url(settings.database_url).render_as_string(hide_password=True)


def _with_engine(settings: Settings, fn: Callable[[Engine], T]) -> T:
    engine = db_engine.engine_from_settings(settings)
    try:
        return fn(engine)
    finally:
        engine.dispose()


def _default_pool_slots(settings: Settings) -> int:
    return int(settings.get("core", "default_pool_slots"))
