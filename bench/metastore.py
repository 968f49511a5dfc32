"""The benchmark's metastore: a fresh SQLite file per ``$TRADEWIND_HOME``, or a fresh
PostgreSQL database ``tw_bench`` (created and dropped here; Airflow's W7 gets one of its own),
and the few reads the harness makes on it with plain SQL (no Tradewind models, so the harness
keeps working while the models change).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg
import sqlalchemy
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine, make_url

from bench.figures import BenchError
from bench.runs import FINISHED, RunRow, TaskRow, parse_time

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_DATABASE = "tw_bench"


class BenchDatabase:
    """Hands out a new, empty metastore for each fresh home."""

    def __init__(
        self, kind: str, server_url: str = POSTGRES_SERVER, name: str = POSTGRES_DATABASE
    ) -> None:
        if kind not in {"sqlite", "postgres"}:
            raise ValueError(f"unknown database kind {kind!r}")
        self.kind = kind
        self.server_url = server_url
        #: Tradewind's database on the server (a bench run of its own needs a name of its own).
        self.name = name
        self._created: set[str] = set()

    def fresh_url(self, home: Path) -> str:
        """The URL Tradewind should use for ``home``; on PostgreSQL a just-recreated DB."""
        if self.kind == "sqlite":
            return f"sqlite:///{home / 'tradewind.db'}"
        return self.recreate(self.name, "postgresql+psycopg")

    def recreate(self, database: str, driver: str) -> str:
        """A new, empty PostgreSQL database ``database`` on the server (dropped by ``drop``);
        its URL with ``driver``."""
        self._admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{database}" TEMPLATE template0')
        self._created.add(database)
        url = make_url(self.server_url).set(drivername=driver, database=database)
        return url.render_as_string(hide_password=False)

    def env(self, home: Path) -> dict[str, str]:
        """``TRADEWIND__DATABASE__URL`` for a fresh database (nothing for SQLite: the default)."""
        if self.kind == "sqlite":
            return {}
        return {"TRADEWIND__DATABASE__URL": self.fresh_url(home)}

    def drop(self) -> None:
        for database in sorted(self._created):
            self._admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self._created.clear()

    def _admin(self, statement: str) -> None:
        plain = (
            make_url(self.server_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        try:
            with psycopg.connect(plain, autocommit=True, connect_timeout=10) as conn:
                conn.execute(statement)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise BenchError(f"PostgreSQL at {self.server_url}: {statement}: {exc}") from exc


class MetastoreReader:
    """Read-only plain-SQL queries on a Tradewind metastore."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite_path = Path(make_url(url).database or "") if url.startswith("sqlite") else None
        self._engine: Engine | None = None

    def _connect(self) -> Engine | None:
        if self._engine is None:
            # Never create the SQLite file ourselves: Tradewind must find it new or not at all.
            if self.sqlite_path is not None and not self.sqlite_path.exists():
                return None
            self._engine = sqlalchemy.create_engine(self.url)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _rows(self, sql: str, **params: object) -> list[sqlalchemy.Row] | None:
        engine = self._connect()
        if engine is None:
            return None
        statement = text(sql)
        for name, value in params.items():
            if isinstance(value, (list, tuple)):
                statement = statement.bindparams(bindparam(name, expanding=True))
        try:
            with engine.connect() as conn:
                return list(conn.execute(statement, params))
        except sqlalchemy.exc.DBAPIError:
            return None  # not migrated yet, or busy: the caller polls again

    def scheduler_running(self) -> bool:
        rows = self._rows(
            "SELECT count(*) FROM job WHERE job_type = 'scheduler' AND state = 'running' "
            "AND latest_heartbeat IS NOT NULL"
        )
        return bool(rows and rows[0][0])

    def active_dag_ids(self) -> set[str]:
        rows = self._rows(
            "SELECT dag_id FROM dag WHERE is_active = :yes AND latest_version_id IS NOT NULL",
            yes=True,
        )
        return {row[0] for row in rows or []}

    def latest_version_id(self, dag_id: str) -> int | None:
        rows = self._rows("SELECT latest_version_id FROM dag WHERE dag_id = :dag_id", dag_id=dag_id)
        return rows[0][0] if rows else None

    def runs(self, dag_id: str, run_ids: Sequence[str]) -> dict[str, RunRow]:
        rows = self._rows(
            "SELECT run_id, state, queued_at, start_date, end_date FROM dag_run "
            "WHERE dag_id = :dag_id AND run_id IN :run_ids",
            dag_id=dag_id,
            run_ids=list(run_ids),
        )
        return {
            row[0]: RunRow(
                row[0], row[1], parse_time(row[2]), parse_time(row[3]), parse_time(row[4])
            )
            for row in rows or []
        }

    def task_rows(self, dag_id: str, run_id: str) -> list[TaskRow]:
        rows = self._rows(
            "SELECT task_id, state, start_date, end_date FROM task_instance "
            "WHERE dag_id = :dag_id AND run_id = :run_id ORDER BY task_id",
            dag_id=dag_id,
            run_id=run_id,
        )
        return [
            TaskRow(row[0], row[1], parse_time(row[2]), parse_time(row[3])) for row in rows or []
        ]

    def task_state_counts(self, dag_id: str, run_ids: Sequence[str]) -> dict[str, int]:
        rows = self._rows(
            "SELECT coalesce(state, 'none'), count(*) FROM task_instance "
            "WHERE dag_id = :dag_id AND run_id IN :run_ids GROUP BY state",
            dag_id=dag_id,
            run_ids=list(run_ids),
        )
        return {row[0]: int(row[1]) for row in rows or []}

    def wait_runs(
        self,
        dag_id: str,
        run_ids: Sequence[str],
        timeout: float,
        what: str,
        *,
        poll: float = 0.02,
        check: Callable[[str], None] | None = None,
    ) -> dict[str, RunRow]:
        """Poll until every run finished; ``check(what)`` may raise (say, the server died)."""
        deadline = time.monotonic() + timeout
        runs: dict[str, RunRow] = {}
        while time.monotonic() < deadline:
            if check is not None:
                check(what)
            runs = self.runs(dag_id, run_ids)
            if len(runs) == len(run_ids) and all(run.state in FINISHED for run in runs.values()):
                return runs
            time.sleep(poll)
        states = {run_id: run.state for run_id, run in runs.items()}
        raise BenchError(
            f"{what}: timed out after {timeout:g} s waiting for {len(run_ids)} run(s) of {dag_id} "
            f"to finish; run states {states or 'none found'}; task states "
            f"{self.task_state_counts(dag_id, run_ids)}"
        )
