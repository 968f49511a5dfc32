"""Bring the metastore schema to the version this code expects (Alembic, configured in code).

Every schema change runs in one transaction, so an interrupted migration leaves the
database as it was. Concurrent ``migrate`` calls are serialized: by the write lock that
``BEGIN IMMEDIATE`` takes on SQLite, and by an advisory lock on PostgreSQL.

Checking the revision (``status``, ``check``), which every command does, reads it with plain
SQL against ``revision.HEAD``; Alembic is imported only to change the schema, or to tell
whether a revision other than head is one this code knows.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from tradewind.db import engine as db_engine
from tradewind.db import revision as schema_revision
from tradewind.db.base import Base
from tradewind.db.models import BUILTIN_ROLES, DEFAULT_POOL_NAME, Role, SlotPool
from tradewind.exceptions import MetastoreError, MetastoreUnreachable, SchemaNotCurrent

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

SCRIPT_LOCATION = Path(__file__).with_name("migrations")
#: Alembic's bookkeeping table as Alembic creates it (``create_from_models`` writes it).
_ALEMBIC_VERSION = Table(
    schema_revision.VERSION_TABLE,
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)
#: Key of the PostgreSQL advisory lock held while migrating ("tw-migr" in ASCII).
_PG_LOCK_KEY = 0x74772D6D696772
DEFAULT_POOL_SLOTS = 128


@dataclasses.dataclass(frozen=True)
class SchemaStatus:
    """Where a database's schema stands against this code's migrations."""

    url: str
    current: str | None
    head: str

    @property
    def is_current(self) -> bool:
        return self.current == self.head

    @property
    def is_empty(self) -> bool:
        """No migration has ever run (a new database)."""
        return self.current is None

    @property
    def is_known(self) -> bool:
        """Whether ``current`` is a revision this code knows (False: the DB is newer)."""
        if self.current is None or self.current == schema_revision.HEAD:
            return True
        from alembic.util.exc import CommandError  # only off the common path: Alembic is heavy

        try:
            return _script().get_revision(self.current) is not None
        except CommandError:
            return False


def head_revision() -> str:
    """The newest revision in this code's migration tree."""
    return schema_revision.HEAD


def alembic_head_revision() -> str:
    """The newest revision as Alembic finds it in the migration tree (``HEAD`` must equal it)."""
    head = _script().get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001
        raise MetastoreError(f"no migrations found in {SCRIPT_LOCATION}")
    return head


def status(engine: Engine) -> SchemaStatus:
    """Connect and report the schema's revision; ``MetastoreUnreachable`` if it cannot."""
    if _sqlite_file_missing(engine):
        # Connecting would create an empty file: "check" must not change anything.
        return SchemaStatus(url=db_engine.describe(engine), current=None, head=head_revision())
    try:
        with engine.connect() as connection:
            current = schema_revision.current_revision(connection)
            connection.rollback()
    except SQLAlchemyError as exc:
        raise MetastoreUnreachable(
            f"cannot reach the database at {db_engine.describe(engine)}: "
            f"{db_engine.error_summary(exc)}"
        ) from exc
    return SchemaStatus(url=db_engine.describe(engine), current=current, head=head_revision())


def check(engine: Engine) -> SchemaStatus:
    """The status when the database is reachable and at head, else a clear error."""
    return require_current(status(engine))


def require_current(found: SchemaStatus) -> SchemaStatus:
    """``found`` when it is at head, else the error ``check`` raises (for a caller that has
    read the status already: reading it again costs a connection and two queries)."""
    if found.is_current:
        return found
    if found.is_empty:
        raise SchemaNotCurrent(
            f"the database at {found.url} has no Tradewind tables: run `tradewind db migrate`"
        )
    if not found.is_known:
        raise SchemaNotCurrent(
            f"the database at {found.url} is at revision {found.current}, which this version "
            "of Tradewind does not know: upgrade Tradewind"
        )
    raise SchemaNotCurrent(
        f"the database at {found.url} is at revision {found.current}, not {found.head}: "
        "run `tradewind db migrate`"
    )


def migrate(engine: Engine, *, default_pool_slots: int = DEFAULT_POOL_SLOTS) -> SchemaStatus:
    """Upgrade to head; a no-op at head. ``default_pool_slots`` sizes a new default_pool.

    A new database gets its schema from the models (``create_from_models``), without
    Alembic; a database at an older revision is upgraded through the migrations.
    """
    current = status(engine)
    if current.is_empty and create_from_models(engine, default_pool_slots=default_pool_slots):
        return status(engine)
    if not current.is_known:
        check(engine)  # raises the "upgrade Tradewind" error
    if not current.is_current:
        _run(engine, "upgrade", "head", default_pool_slots=default_pool_slots)
    return status(engine)


def upgrade_through_migrations(
    engine: Engine, *, default_pool_slots: int = DEFAULT_POOL_SLOTS
) -> SchemaStatus:
    """Run every migration from where the database is up to head, a new database included
    (``migrate`` creates a new one from the models instead)."""
    _run(engine, "upgrade", "head", default_pool_slots=default_pool_slots)
    return status(engine)


def create_from_models(engine: Engine, *, default_pool_slots: int = DEFAULT_POOL_SLOTS) -> bool:
    """Give a database that records no revision the schema at head in one transaction:
    every table from the models, the rows ``0001`` seeds (built-in roles, default_pool) and
    head recorded as Alembic records it. A test holds the result equal to what running every
    migration gives; importing Alembic and running the migrations one by one cost more than
    the rest of ``standalone``'s set-up.

    False, and nothing changed, when a revision is recorded by the time the migration lock
    is held (another process migrated first). Tables already there are an error, as they are
    for the first migration.
    """
    try:
        with _migration_connection(engine) as connection:
            if schema_revision.current_revision(connection) is not None:
                return False
            tables = _models_copy() if connection.dialect.supports_alter else Base.metadata
            tables.create_all(connection, checkfirst=False)
            _ALEMBIC_VERSION.create(connection, checkfirst=True)  # left by a downgrade
            connection.execute(_ALEMBIC_VERSION.insert().values(version_num=schema_revision.HEAD))
            roles = Role.__table__
            connection.execute(roles.insert(), [{"name": name} for name in BUILTIN_ROLES])
            connection.execute(
                SlotPool.__table__.insert().values(
                    pool=DEFAULT_POOL_NAME,
                    slots=default_pool_slots,
                    description="Default pool",
                    include_deferred=False,
                )
            )
    except SQLAlchemyError as exc:
        raise MetastoreError(
            f"creating the schema of {db_engine.describe(engine)} failed: "
            f"{db_engine.error_summary(exc)}"
        ) from exc
    return True


def _models_copy() -> MetaData:
    """The models' tables, copied (some 25 ms): creating a use_alter foreign key by ALTER
    (PostgreSQL) marks it on its MetaData as never created inline, which would leave it out
    of a SQLite database created later in the same process. SQLite, without ALTER, creates
    every key inline and changes nothing on the MetaData."""
    copy = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(copy)
    return copy


def downgrade(engine: Engine, revision: str = "base") -> SchemaStatus:
    """Downgrade to ``revision``; ``"base"`` removes every Tradewind table."""
    _run(engine, "downgrade", revision)
    return status(engine)


def reset(engine: Engine, *, default_pool_slots: int = DEFAULT_POOL_SLOTS) -> SchemaStatus:
    """Drop every table (Tradewind's, stray ones and ``alembic_version``), then migrate."""
    drop_all(engine)
    return migrate(engine, default_pool_slots=default_pool_slots)


def drop_all(engine: Engine) -> None:
    """Drop every table in the database's default schema, whatever created it."""
    with _migration_connection(engine) as connection:
        names = [n for n in inspect(connection).get_table_names() if not n.startswith("sqlite_")]
        quote = connection.dialect.identifier_preparer.quote
        for name in names:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)} CASCADE")
            else:
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)}")


def _sqlite_file_missing(engine: Engine) -> bool:
    database = engine.url.database or ""
    if (
        engine.dialect.name != "sqlite"
        or database in {"", ":memory:"}
        or database.startswith("file:")
    ):
        return False
    return not Path(database).expanduser().exists()


def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def _config(**attributes: Any) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes.update(attributes)
    return config


def _run(engine: Engine, verb: str, target: str, **attributes: Any) -> None:
    from alembic import command
    from alembic.util.exc import CommandError

    try:
        with _migration_connection(engine) as connection:
            getattr(command, verb)(_config(connection=connection, **attributes), target)
    except CommandError as exc:
        raise MetastoreError(f"cannot {verb} to {target!r}: {exc}") from exc
    except SQLAlchemyError as exc:
        raise MetastoreError(
            f"{verb} of {db_engine.describe(engine)} failed: {db_engine.error_summary(exc)}"
        ) from exc


@contextlib.contextmanager
def _migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside one transaction that commits when the block ends.

    On SQLite, foreign keys are switched off for the duration: batch migrations recreate
    tables, and dropping the old copy with enforcement on would cascade-delete child rows.
    ``foreign_key_check`` then proves nothing was left dangling before commit.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _sqlite_pragma(connection, "PRAGMA foreign_keys = OFF")
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
                yield connection
                if sqlite:
                    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if dangling:
                        raise MetastoreError(
                            f"migration would leave {len(dangling)} rows with dangling foreign "
                            f"keys (first: table {dangling[0][0]}); rolled back"
                        )
        finally:
            if sqlite:
                _sqlite_pragma(connection, "PRAGMA foreign_keys = ON")


def _sqlite_pragma(connection: Connection, statement: str) -> None:
    # Through the driver: SQLAlchemy would open a transaction first, and these pragmas are
    # no-ops inside one.
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]  # open while connected
    try:
        cursor.execute(statement)
    finally:
        cursor.close()
