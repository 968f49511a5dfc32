"""Fixtures of the UI tests: the app on a real metastore (SQLite and PostgreSQL), users of each
role, signed-in clients, and factories for DAG versions, runs and task instances."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tradewind import DAG, config, serialization
from tradewind.api.app import create_app
from tradewind.dag_processing import store
from tradewind.db import engine as db_engine
from tradewind.db.models import Dag, DagRun, Log, TaskInstance
from tradewind.services import users

from .helpers import NOW, PASSWORD, sign_in, token


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its production cost takes ~0.1 s per hash; these tests sign in a lot."""
    monkeypatch.setattr(
        users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def ui_settings(settings: config.Settings) -> config.Settings:
    return settings.with_values(webserver__default_ui_timezone="Asia/Seoul")


@pytest.fixture
def app(ui_settings: config.Settings, engine: Engine) -> FastAPI:
    return create_app(ui_settings, engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def make_user(engine: Engine) -> Callable[[str], str]:
    """Create a user of ``role`` named after it (``admin_user``...); returns the username."""

    def make(role: str, username: str | None = None) -> str:
        name = username or f"{role.lower()}_user"
        db_engine.run_in_transaction(
            engine, lambda s: users.create_user(s, username=name, password=PASSWORD, role=role)
        )
        return name

    return make


@pytest.fixture
def login(client: TestClient, make_user: Callable[[str], str]) -> Callable[[str], str]:
    """Sign ``client`` in as a new user of ``role``; returns the CSRF token of the session."""

    def do(role: str) -> str:
        sign_in(client, make_user(role))
        return token(client)

    return do


@pytest.fixture
def store_dag(engine: Engine) -> Callable[..., int]:
    """Store a DAG version as the DAG processor would; returns the DAG's latest version id."""

    def do(dag: DAG, source: str | None = None, *, paused: bool = False) -> int:
        text = serialization.dumps(dag)
        code = source if source is not None else f"# source of {dag.dag_id}\nprint('hello')\n"

        def write(session: Any) -> int:
            store.store_dag(
                session,
                dag,
                text,
                code,
                f"/dags/{dag.dag_id}.py",
                paused_by_default=paused,
                now=NOW,
            )
            session.flush()
            row = session.get(Dag, dag.dag_id)
            row.is_paused = paused
            return int(row.latest_version_id)

        return db_engine.run_in_transaction(engine, write)

    return do


@pytest.fixture
def add_run(engine: Engine) -> Callable[..., str]:
    """Add a run of a stored DAG pinned to ``version_id`` with task instances in ``states``.

    ``states`` maps task ids (``task[i]`` for a mapped instance) to states; returns the run id.
    """

    def do(
        dag_id: str,
        version_id: int,
        *,
        state: str = "success",
        day: int = 0,
        states: dict[str, str | None] | None = None,
        conf: dict[str, Any] | None = None,
    ) -> str:
        when = NOW - timedelta(days=10 - day)
        run_id = f"scheduled__{when.isoformat()}"

        def write(session: Any) -> None:
            session.add(
                DagRun(
                    dag_id=dag_id,
                    run_id=run_id,
                    logical_date=when,
                    data_interval_start=when - timedelta(days=1),
                    data_interval_end=when,
                    run_after=when,
                    run_type="scheduled",
                    state=state,
                    conf=conf or {},
                    dag_version_id=version_id,
                    queued_at=when,
                    start_date=when,
                    end_date=when + timedelta(minutes=3),
                )
            )
            session.flush()
            for key, ti_state in (states or {}).items():
                task_id, _, index = key.partition("[")
                map_index = int(index.rstrip("]")) if index else -1
                started = when + timedelta(seconds=10)
                session.add(
                    TaskInstance(
                        dag_id=dag_id,
                        run_id=run_id,
                        task_id=task_id,
                        map_index=map_index,
                        state=ti_state,
                        try_number=1 if ti_state else 0,
                        max_tries=1,
                        dag_version_id=version_id,
                        queued_dttm=when,
                        start_date=started if ti_state else None,
                        end_date=started + timedelta(seconds=20)
                        if ti_state in {"success", "failed"}
                        else None,
                        duration=20.0 if ti_state in {"success", "failed"} else None,
                        operator="EmptyOperator",
                    )
                )

        db_engine.run_in_transaction(engine, write)
        return run_id

    return do


@pytest.fixture
def audit_events(engine: Engine) -> Callable[[], list[tuple[str, str | None, str | None]]]:
    """``(event, owner, dag_id)`` of every audit entry, oldest first."""

    def read() -> list[tuple[str, str | None, str | None]]:
        with engine.connect() as conn:
            rows = conn.execute(Log.__table__.select().order_by(Log.id)).mappings().all()
        return [(row["event"], row["owner"], row["dag_id"]) for row in rows]

    return read
