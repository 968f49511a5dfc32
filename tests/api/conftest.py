"""Fixtures of the REST API tests: the app on a real metastore (SQLite and PostgreSQL) with the
DAGs of ``tests/api/dags`` parsed into it, a user per role, and helpers to make runs.

Fixtures
    api_settings   settings whose DAG folder holds a copy of ``tests/api/dags``
    app            ``create_app`` over the test engine, the DAG folder parsed
    client         a ``TestClient`` of ``app`` (no credentials)
    auth           ``auth("Viewer")`` -> headers with a bearer token of a user with that role
    admin          headers of the Admin user
    make_run       ``make_run("api_example", **trigger_kwargs)`` -> run_id of a started run
                   (task instances created, nothing scheduled yet)
    set_ti         ``set_ti(run_id, task_id, state=..., try_number=..., ...)`` edits one task
                   instance
    run_url        ``run_url(run_id)`` -> ``/api/v2/dags/api_example/dagRuns/<quoted run_id>``
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tradewind import config
from tradewind.api.app import create_app
from tradewind.dag_processing.manager import DagProcessor
from tradewind.db import engine as db_engine
from tradewind.db.models import TaskInstance, User
from tradewind.scheduler import run_lifecycle
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.sdk import timezone
from tradewind.services import dag_runs, users

DAGS = Path(__file__).parent / "dags"
ROLES = ("Admin", "Op", "User", "Viewer")
PASSWORD = "correct horse"


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One argon2 hash for every test user: hashing per test would cost seconds."""
    return users.hash_password(PASSWORD)


@pytest.fixture
def api_settings(settings: config.Settings, tmp_path: Path) -> config.Settings:
    folder = tmp_path / "dags"
    shutil.copytree(DAGS, folder)
    return settings.with_values(core__dags_folder=str(folder))


@pytest.fixture
def app(api_settings: config.Settings, engine: Engine, password_hash: str) -> FastAPI:
    summary = DagProcessor(api_settings, engine).run_once()
    assert summary.dags_seen >= 2, summary

    def add_users(session: Any) -> None:
        for role in ROLES:
            session.add(
                User(username=role.lower(), password_hash=password_hash, role=role, active=True)
            )

    db_engine.run_in_transaction(engine, add_users)
    return create_app(api_settings, engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def issue_token(app: FastAPI, engine: Engine, username: str) -> str:
    """A bearer token of ``username`` as ``POST /auth/token`` would issue it (without argon2)."""
    stamp = db_engine.run_in_transaction(
        engine,
        lambda s: s.scalar(select(User.session_stamp).where(User.username == username)),
        readonly=True,
    )
    assert stamp is not None, f"no user {username}"
    return str(app.state.tokens.issue(username, stamp))


@pytest.fixture
def auth(app: FastAPI, engine: Engine) -> Callable[[str], dict[str, str]]:
    def headers(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(app, engine, role.lower())}"}

    return headers


@pytest.fixture
def admin(auth: Callable[[str], dict[str, str]]) -> dict[str, str]:
    return auth("Admin")


@pytest.fixture
def make_run(app: FastAPI, engine: Engine) -> Callable[..., str]:
    def make(dag_id: str = "api_example", **kwargs: Any) -> str:
        def create(session: Any) -> str:
            info = dag_runs.trigger(session, dag_id, now=timezone.utcnow(), **kwargs)
            run_lifecycle.start_queued_runs(session, DagVersionCache(), timezone.utcnow())
            return info.run_id

        return db_engine.run_in_transaction(engine, create)

    return make


@pytest.fixture
def set_ti(engine: Engine) -> Callable[..., None]:
    def update(
        run_id: str, task_id: str, dag_id: str = "api_example", map_index: int = -1, **values: Any
    ) -> None:
        def change(session: Any) -> None:
            ti = session.scalar(
                select(TaskInstance).where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.run_id == run_id,
                    TaskInstance.task_id == task_id,
                    TaskInstance.map_index == map_index,
                )
            )
            assert ti is not None, (run_id, task_id, map_index)
            for name, value in values.items():
                setattr(ti, name, value)

        db_engine.run_in_transaction(engine, change)

    return update


@pytest.fixture
def run_url() -> Callable[..., str]:
    """``run_url(run_id, dag_id="api_example")`` -> the run's URL, its id quoted."""

    def url(run_id: str, dag_id: str = "api_example") -> str:
        return f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"

    return url
