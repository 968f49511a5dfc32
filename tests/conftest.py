"""Shared database fixtures: every test that uses them runs on SQLite and on PostgreSQL.

Fixtures
    backend          "sqlite" or "postgres" (parametrized; PostgreSQL cases carry the
                     ``postgres`` marker). Pin one with
                     ``@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)``.
    db_url           URL of a new, empty database (no tables).
    migrated_db_url  URL of a new database already at the latest schema.
    engine           a Tradewind engine on ``migrated_db_url``; disposed after the test.
    session          a Session on ``engine``; commit what other connections must see.
    settings         Settings with ``home=tmp_path`` and ``[database] url=migrated_db_url``.
    tradewind_env    environment variables for CLI runs against that same home/database.

PostgreSQL: the server comes from ``TRADEWIND_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). A test session creates its own databases
named ``tw_test_<random>_*`` and drops them at the end. ``db_url`` is a new empty database
per test. ``migrated_db_url`` is one database per session, migrated once, and emptied
before each test (every row deleted, the migration's seed rows put back): creating a
database per test costs ~0.3 s on a server with fsync on, this ~10 ms. If a test left it
at another revision (say ``db downgrade``), it is rebuilt. SQLite gets a copy of a migrated
file per test. When the server cannot be reached the PostgreSQL cases are skipped, unless
``CI=true``: then they fail.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tradewind import config
from tradewind.db import engine as db_engine
from tradewind.db import migrate as db_migrate
from tradewind.db.base import Base
from tradewind.exceptions import TradewindError


def _stop_tracing_in_forked_children() -> None:
    """Line coverage is measured in the test process only: a process forked from it (a warm
    launcher, a try, a parse child) ends with ``os._exit`` and saves nothing, so it should not
    pay for the tracer either (it made the tries of in-process schedulers several times slower).
    """
    sys.settrace(None)
    threading.settrace(None)


os.register_at_fork(after_in_child=_stop_tracing_in_forked_children)


POSTGRES_URL_ENV = "TRADEWIND_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


class PostgresServer:
    """Creates and drops this test session's databases on one PostgreSQL server."""

    def __init__(self, base_url: str, admin: psycopg.Connection) -> None:
        self.base_url = make_url(base_url).set(drivername="postgresql")
        self.admin = admin
        self.prefix = f"tw_test_{secrets.token_hex(4)}"
        self._counter = itertools.count(1)
        self._migrated: Engine | None = None
        self._seed: dict[str, list[dict[str, Any]]] = {}

    def url_of(self, database: str) -> str:
        return self.base_url.set(database=database).render_as_string(hide_password=False)

    def create_database(self) -> str:
        """A new, empty database."""
        name = f"{self.prefix}_{next(self._counter)}"
        self.admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url_of(name)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def clean_migrated_database(self) -> str:
        """The session's migrated database, holding only the migration's seed rows."""
        if self._migrated is None:
            name = f"{self.prefix}_migrated"
            self.admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
            self._migrated = db_engine.create_engine(self.url_of(name))
            self._rebuild()
        try:
            self._empty()
        except (SQLAlchemyError, TradewindError):
            self._rebuild()
        return self.url_of(str(self._migrated.url.database))

    def _rebuild(self) -> None:
        assert self._migrated is not None
        db_migrate.reset(self._migrated)
        with self._migrated.connect() as conn:
            self._seed = {
                table.name: [dict(row) for row in conn.execute(table.select()).mappings()]
                for table in Base.metadata.sorted_tables
            }

    def _empty(self) -> None:
        assert self._migrated is not None
        # A connection leaked by an earlier test could hold locks and hang the cleanup; end
        # them all (the cleanup engine's own idle one is replaced thanks to pool_pre_ping).
        self.admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (self._migrated.url.database,),
        )
        db_migrate.check(self._migrated)
        with self._migrated.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
            for table in Base.metadata.sorted_tables:
                if self._seed[table.name]:
                    conn.execute(table.insert(), self._seed[table.name])

    def drop_all(self) -> None:
        if self._migrated is not None:
            self._migrated.dispose()
        rows = self.admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{self.prefix}%",)
        ).fetchall()
        for (name,) in rows:
            self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """This session's PostgreSQL server, or a skip (a failure when ``CI=true``)."""
    url = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        detail = " ".join(str(exc).split())
        reason = f"PostgreSQL is not reachable at {shown} (set {POSTGRES_URL_ENV}): {detail}"
        if os.environ.get("CI", "").lower() in {"true", "1"}:
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer(url, admin)
    try:
        yield server
    finally:
        server.drop_all()
        admin.close()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied per test instead of migrating every time."""
    path = tmp_path_factory.mktemp("sqlite-template") / "tradewind.db"
    engine = db_engine.create_engine(f"sqlite:///{path}")
    try:
        db_migrate.migrate(engine)
    finally:
        engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new database without tables."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture
def migrated_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new database at the latest schema (with default_pool and the built-in roles)."""
    if backend == "sqlite":
        path = tmp_path / "tradewind.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    yield server.clean_migrated_database()


@pytest.fixture
def engine(migrated_db_url: str) -> Iterator[Engine]:
    """An engine on a migrated database of the current backend."""
    engine = db_engine.create_engine(migrated_db_url, busy_timeout_ms=5000)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on ``engine``; whatever the test did not commit is rolled back."""
    with Session(bind=engine, expire_on_commit=False) as session:
        yield session
        session.rollback()


@pytest.fixture
def tradewind_env(tmp_path: Path, migrated_db_url: str) -> dict[str, str]:
    """``TRADEWIND_HOME`` and the database URL, for
    ``CliRunner.invoke(env=...)`` or subprocesses."""
    return {"TRADEWIND_HOME": str(tmp_path), "TRADEWIND__DATABASE__URL": migrated_db_url}


@pytest.fixture
def settings(tradewind_env: dict[str, str]) -> config.Settings:
    """Settings whose home is ``tmp_path`` and whose database is ``migrated_db_url``."""
    return config.load(environ=tradewind_env)
