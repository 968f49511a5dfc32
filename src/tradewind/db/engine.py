"""Engines, sessions and retried transactions for the metastore.

SQLite is tuned so that many processes can share one file without "database is locked":
WAL mode (readers never block the writer), a busy timeout (a writer waits for the lock
instead of failing), and ``BEGIN IMMEDIATE`` (a write transaction takes the write lock when
it starts, so two transactions never deadlock upgrading read locks, which SQLite reports as
an immediate SQLITE_BUSY that no timeout cures). What still fails after the timeout is
retried with backoff by ``run_in_transaction``.

The caller owns the transaction: open one with ``session_scope`` or ``run_in_transaction``
and pass the session to query and service functions.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from tradewind.config import Settings
from tradewind.exceptions import MetastoreError

T = TypeVar("T")

#: Execution option that makes a SQLite transaction start with a plain (deferred) BEGIN, so a
#: read-only transaction does not queue behind writers for the write lock.
READ_ONLY_OPTION = "tradewind_read_only"

DEFAULT_RETRIES = 5

# PostgreSQL SQLSTATEs worth retrying: serialization_failure, deadlock_detected,
# lock_not_available.
_PG_RETRYABLE = frozenset({"40001", "40P01", "55P03"})
_SQLITE_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})

_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
_fork_hook_lock = threading.Lock()
_fork_hook_installed = False


def normalize_url(url: str | URL) -> URL:
    """Parse ``url`` and pick the driver Tradewind ships with.

    ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://`` (psycopg 3).
    """
    try:
        parsed = make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError) as exc:
        raise MetastoreError(f"invalid database URL {str(url)!r}: {exc}") from exc
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise MetastoreError(
            f"unsupported database {parsed.get_backend_name()!r} in URL "
            f"{parsed.render_as_string(hide_password=True)}: use sqlite:/// or postgresql://"
        )
    return parsed


def create_engine(url: str | URL, *, busy_timeout_ms: int = 30_000, **kwargs: Any) -> Engine:
    """An engine for ``url`` with Tradewind's per-backend settings; ``kwargs`` go to SQLAlchemy.

    Engines are disposed (without closing the parent's connections) in a forked child, so a
    child never talks over its parent's sockets or SQLite file handles.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _create_sqlite_engine(parsed, busy_timeout_ms, kwargs)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        engine = sqlalchemy.create_engine(parsed, **kwargs)
    _track_for_fork(engine)
    return engine


def engine_from_settings(settings: Settings, **kwargs: Any) -> Engine:
    """The metastore engine named by ``settings`` (``[database] url``, busy timeout)."""
    return create_engine(
        settings.database_url,
        busy_timeout_ms=int(settings.get("database", "busy_timeout_ms")),
        **kwargs,
    )


def describe(engine: Engine) -> str:
    """The engine's URL with the password hidden, for messages."""
    return engine.url.render_as_string(hide_password=True)


def read_only(engine: Engine) -> Engine:
    """A view of ``engine`` whose transactions only read (plain ``BEGIN`` on SQLite)."""
    return engine.execution_options(**{READ_ONLY_OPTION: True})


@contextlib.contextmanager
def session_scope(engine: Engine, *, readonly: bool = False) -> Iterator[Session]:
    """One transaction: commit when the block ends, roll back if it raises.

    Driver errors are left as SQLAlchemy exceptions so ``run_in_transaction`` can tell lock
    errors from the rest; use that function when the transaction may meet other writers.
    """
    bind = read_only(engine) if readonly else engine
    with Session(bind=bind, expire_on_commit=False) as session, session.begin():
        yield session


def run_in_transaction(
    engine: Engine,
    fn: Callable[[Session], T],
    *,
    retries: int = DEFAULT_RETRIES,
    backoff: float = 0.05,
    max_backoff: float = 2.0,
    readonly: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``fn(session)`` in one transaction and return its result.

    When the database reports a lock or serialization conflict, the whole transaction is
    rolled back and run again, up to ``retries`` more times with jittered exponential
    backoff; ``fn`` must therefore be safe to repeat. Other driver errors, and a conflict
    that outlasts the retries, raise ``MetastoreError`` with the driver error as cause.
    Errors ``fn`` raises itself pass through unchanged.
    """
    attempt = 0
    while True:
        try:
            with session_scope(engine, readonly=readonly) as session:
                return fn(session)
        except DBAPIError as exc:
            if not is_retryable(exc) or attempt >= retries:
                suffix = f" (after {attempt + 1} attempts)" if is_retryable(exc) else ""
                raise MetastoreError(f"{error_summary(exc)}{suffix}") from exc
            delay = min(max_backoff, backoff * 2**attempt)
            sleep(delay * random.uniform(0.5, 1.0))
            attempt += 1
        except SQLAlchemyError as exc:
            raise MetastoreError(error_summary(exc)) from exc


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is a lock/serialization conflict that a fresh transaction may avoid."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, sqlite3.OperationalError):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_BUSY_CODES
        return "locked" in str(orig) or "busy" in str(orig)
    return getattr(orig, "sqlstate", None) in _PG_RETRYABLE


def error_summary(exc: BaseException) -> str:
    """The first line of a driver error, without SQLAlchemy's SQL and background link."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(orig).strip().splitlines()
    message = text[0] if text else type(orig).__name__
    return f"database error: {message}"


def _create_sqlite_engine(url: URL, busy_timeout_ms: int, kwargs: dict[str, Any]) -> Engine:
    database = url.database or ""
    in_memory = database in {"", ":memory:"} or "mode=memory" in database
    if not in_memory and not database.startswith("file:"):
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MetastoreError(
                f"cannot create the folder of the SQLite database {folder}: {exc}"
            ) from exc
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", busy_timeout_ms / 1000)
    engine = sqlalchemy.create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module; _on_begin emits the one we want.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not in_memory:
                # journal_mode is persistent in the file; only switch when needed, since
                # switching needs a moment of exclusive access.
                mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    cursor.execute("PRAGMA journal_mode = WAL")
                # Durable across application crashes in WAL mode; skips an fsync per commit.
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY_OPTION):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _track_for_fork(engine: Engine) -> None:
    global _fork_hook_installed
    _engines.add(engine)
    with _fork_hook_lock:
        if not _fork_hook_installed and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_dispose_engines_in_child)
            _fork_hook_installed = True


def forget_engines() -> None:
    """In a forked process that will never use the metastore (and whose own forks will not
    either): stop tracking the engines, so its forks skip the dispose at fork (over a
    millisecond each)."""
    _engines.clear()


def _dispose_engines_in_child() -> None:
    # close=False: the parent still owns those connections; closing them here would send
    # PostgreSQL a terminate message on the parent's socket.
    for engine in list(_engines):
        engine.dispose(close=False)
