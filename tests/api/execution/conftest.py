"""Fixtures of the execution API tests: the REST API's app (``tests/api/conftest.py``) with a
token key, a task instance queued for a try, and tokens of that try.

Fixtures
    api_settings   the REST tests' settings with ``[api_auth] jwt_secret`` set
    queued_try     ``queued_try(task_id="load", try_number=1)`` -> the claims of a try queued
                   in a new run of ``api_example``
    try_token      ``try_token(claims, scope="execution")`` -> headers with a token of the try
    started_try    ``started_try(task_id="load")`` -> a ``RemoteTry`` started through the API
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tradewind import config
from tradewind.db import engine as db_engine
from tradewind.db.models import TaskInstance
from tradewind.remote import tokens
from tradewind.remote.tokens import TryClaims
from tradewind.sdk.states import TaskInstanceState as TIS

#: Where the tests' tries run, as start and heartbeat bodies say it.
WHERE = {"hostname": "worker-1", "pid": 4242}
SECRET = "execution-api-test-key-of-at-least-32-bytes"


@pytest.fixture
def api_settings(api_settings: config.Settings) -> config.Settings:
    return api_settings.with_values(api_auth__jwt_secret=SECRET)


@pytest.fixture
def queued_try(
    make_run: Callable[..., str], set_ti: Callable[..., None], engine: Engine
) -> Callable[..., TryClaims]:
    def make(task_id: str = "load", try_number: int = 1, **values: Any) -> TryClaims:
        run_id = make_run()
        set_ti(run_id, task_id, state=TIS.QUEUED, try_number=try_number, **values)
        ti_id = db_engine.run_in_transaction(
            engine,
            lambda s: s.scalar(
                select(TaskInstance.id).where(
                    TaskInstance.run_id == run_id, TaskInstance.task_id == task_id
                )
            ),
        )
        assert ti_id is not None, (run_id, task_id)
        return TryClaims(
            ti_id=ti_id,
            try_number=try_number,
            dag_id="api_example",
            run_id=run_id,
            task_id=task_id,
            map_index=-1,
        )

    return make


def token_of(
    claims: TryClaims,
    scope: str = tokens.EXECUTION,
    *,
    secret: str = SECRET,
    ttl: float = 600,
    now: float | None = None,
) -> str:
    return tokens.issue(secret, claims, scope=scope, ttl=ttl, now=now)


@pytest.fixture
def try_token() -> Callable[..., dict[str, str]]:
    def headers(claims: TryClaims, scope: str = tokens.EXECUTION, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_of(claims, scope, **kwargs)}"}

    return headers


@dataclasses.dataclass
class RemoteTry:
    """A try started through the execution API, as the worker that runs it sees it."""

    claims: TryClaims
    client: TestClient
    #: ``Authorization`` with the execution token that start answered.
    headers: dict[str, str]
    set_ti: Callable[..., None]

    def url(self, call: str) -> str:
        return f"/execution/task-instances/{self.claims.ti_id}/{call}"

    def post(self, call: str, **kwargs: Any) -> Any:
        return self.client.post(self.url(call), headers=self.headers, **kwargs)

    def set(self, **values: Any) -> None:
        """Change the task instance from outside (the scheduler, a user)."""
        self.set_ti(self.claims.run_id, self.claims.task_id, **values)


@pytest.fixture
def started_try(
    client: TestClient,
    queued_try: Callable[..., TryClaims],
    try_token: Callable[..., dict[str, str]],
    set_ti: Callable[..., None],
) -> Callable[..., RemoteTry]:
    def start(task_id: str = "load", **values: Any) -> RemoteTry:
        claims = queued_try(task_id, **values)
        answer = client.post(
            f"/execution/task-instances/{claims.ti_id}/start",
            json=WHERE,
            headers=try_token(claims, tokens.QUEUED),
        )
        assert answer.status_code == 200, answer.text
        headers = {"Authorization": f"Bearer {answer.json()['token']}"}
        return RemoteTry(claims, client, headers, set_ti)

    return start
