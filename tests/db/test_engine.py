"""Engine tuning, transactions, retries and fork safety."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import psycopg.errors
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from tradewind.db import engine as db_engine
from tradewind.db import models
from tradewind.exceptions import MetastoreError, TradewindError

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u:p@h/db", "postgresql+psycopg"),
        ("postgres://u:p@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_normalize_url_picks_psycopg(url: str, driver: str) -> None:
    assert db_engine.normalize_url(url).drivername == driver


def test_normalize_url_rejects_other_databases() -> None:
    with pytest.raises(MetastoreError, match="unsupported database 'mysql'.*:\\*\\*\\*@"):
        db_engine.normalize_url("mysql://u:secret@h/db")


def test_sqlite_folder_is_created(tmp_path: Path) -> None:
    engine = db_engine.create_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 'tw.db'}")
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT 1")) == 1
    engine.dispose()
    assert (tmp_path / "a" / "b" / "tw.db").exists()


@sqlite_only
def test_sqlite_pragmas_in_effect(migrated_db_url: str) -> None:
    engine = db_engine.create_engine(migrated_db_url, busy_timeout_ms=1234)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    finally:
        engine.dispose()


def _try_write_lock(path: str) -> bool:
    """Whether another connection can take the write lock right now."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        other.close()


@sqlite_only
def test_sqlite_write_transaction_takes_the_write_lock_at_begin(engine: Engine) -> None:
    path = engine.url.database
    assert path
    with db_engine.session_scope(engine) as session:
        session.execute(select(models.SlotPool.id)).all()  # only reads so far
        assert not _try_write_lock(path)
    assert _try_write_lock(path)
    with db_engine.session_scope(engine, readonly=True) as session:
        session.execute(select(models.SlotPool.id)).all()
        assert _try_write_lock(path), "a read-only transaction must not block writers"


def _increment(session: Session) -> None:
    """Read-modify-write: under deferred BEGIN two of these deadlock on SQLite."""
    pool = session.scalars(
        select(models.SlotPool).where(models.SlotPool.pool == "default_pool")
    ).one()
    pool.slots += 1


def test_concurrent_writer_threads_lose_no_update(engine: Engine) -> None:
    with db_engine.session_scope(engine) as session:
        start = session.scalars(
            select(models.SlotPool.slots).where(models.SlotPool.pool == "default_pool")
        ).one()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(20):
                db_engine.run_in_transaction(engine, _increment)
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    with db_engine.session_scope(engine) as session:
        end = session.scalars(
            select(models.SlotPool.slots).where(models.SlotPool.pool == "default_pool")
        ).one()
    if engine.dialect.name == "sqlite":
        assert end == start + 80
    else:
        # PostgreSQL READ COMMITTED may lose ORM read-modify-write updates; the point here is
        # that no lock error escapes. Row locking is the scheduler's business.
        assert start < end <= start + 80


_WRITER_SCRIPT = """
import sys
from sqlalchemy import update
from tradewind.db import engine as db_engine, models

engine = db_engine.create_engine(sys.argv[1], busy_timeout_ms=100)
def bump(session):
    slots = models.SlotPool.slots
    session.execute(
        update(models.SlotPool)
        .where(models.SlotPool.pool == "default_pool")
        .values(slots=slots + 1)
    )
for _ in range(int(sys.argv[2])):
    db_engine.run_in_transaction(engine, bump, retries=50, backoff=0.005)
engine.dispose()
"""


@sqlite_only
def test_concurrent_writer_processes_on_sqlite(engine: Engine) -> None:
    """Separate processes, short busy timeout: retries absorb every lock conflict."""
    with db_engine.session_scope(engine) as session:
        start = session.scalars(select(models.SlotPool.slots)).one()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER_SCRIPT, str(engine.url), "40"], stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    for proc in procs:
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr.decode()
    with db_engine.session_scope(engine) as session:
        assert session.scalars(select(models.SlotPool.slots)).one() == start + 80


@sqlite_only
def test_run_in_transaction_retries_when_locked(migrated_db_url: str) -> None:
    engine = db_engine.create_engine(migrated_db_url, busy_timeout_ms=10)
    path = engine.url.database
    assert path
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    attempts: list[int] = []

    def release(_delay: float) -> None:
        blocker.execute("ROLLBACK")

    def write(session: Session) -> str:
        attempts.append(1)
        session.add(models.Variable(key="k", val="v"))
        return "done"

    try:
        assert db_engine.run_in_transaction(engine, write, sleep=release) == "done"
        assert len(attempts) == 2  # the whole transaction, fn included, ran again
    finally:
        blocker.close()
        engine.dispose()


@sqlite_only
def test_run_in_transaction_gives_up_with_metastore_error(migrated_db_url: str) -> None:
    engine = db_engine.create_engine(migrated_db_url, busy_timeout_ms=1)
    path = engine.url.database
    assert path
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    sleeps: list[float] = []
    try:
        with pytest.raises(
            MetastoreError, match="database is locked \\(after 3 attempts\\)"
        ) as info:
            db_engine.run_in_transaction(
                engine, lambda s: s.execute(text("SELECT 1")), retries=2, sleep=sleeps.append
            )
        assert isinstance(info.value.__cause__, OperationalError)
        assert len(sleeps) == 2 and sleeps[0] < sleeps[1] * 2
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        engine.dispose()


def test_driver_errors_are_wrapped_and_user_errors_pass(engine: Engine) -> None:
    with pytest.raises(MetastoreError, match="^database error: ") as info:
        db_engine.run_in_transaction(
            engine, lambda s: s.execute(text("SELECT * FROM no_such_table"))
        )
    assert isinstance(info.value.__cause__, DBAPIError)

    def fails(_session: Session) -> None:
        raise TradewindError("mine")

    with pytest.raises(TradewindError, match="^mine$"):
        db_engine.run_in_transaction(engine, fails)


def test_failed_transaction_rolls_back(engine: Engine) -> None:
    def add_then_fail(session: Session) -> None:
        session.add(models.Variable(key="rolled_back", val="x"))
        session.flush()
        raise TradewindError("stop")

    with pytest.raises(TradewindError):
        db_engine.run_in_transaction(engine, add_then_fail)
    with db_engine.session_scope(engine) as session:
        assert (
            session.scalar(select(models.Variable).where(models.Variable.key == "rolled_back"))
            is None
        )


def test_retryable_errors_are_recognised() -> None:
    def wrapped(orig: Exception) -> DBAPIError:
        return DBAPIError("stmt", {}, orig)

    assert db_engine.is_retryable(wrapped(sqlite3.OperationalError("database is locked")))
    assert db_engine.is_retryable(wrapped(psycopg.errors.SerializationFailure("x")))
    assert db_engine.is_retryable(wrapped(psycopg.errors.DeadlockDetected("x")))
    assert not db_engine.is_retryable(wrapped(psycopg.errors.UniqueViolation("x")))
    assert not db_engine.is_retryable(wrapped(sqlite3.OperationalError("no such table: x")))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_does_not_reuse_parent_connections(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        # The object itself, not only its id: held here, its address cannot be reused by a
        # new connection in the child, so equal ids really mean the same connection.
        parent_connection = conn.connection.dbapi_connection
        parent_dbapi = id(parent_connection)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report, never return into pytest
        status = 1
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                reused = id(conn.connection.dbapi_connection) == parent_dbapi
            os.write(write_fd, b"reused" if reused else b"fresh")
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    _, status = os.waitpid(pid, 0)
    answer = os.read(read_fd, 16)
    os.close(read_fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert answer == b"fresh"
    with engine.connect() as conn:  # the parent's pooled connection still works
        assert conn.scalar(text("SELECT 1")) == 1
        assert id(conn.connection.dbapi_connection) == parent_dbapi
