"""Authentication and each role's permissions across the REST API."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tests.api.conftest import PASSWORD
from tradewind.api import sign_in
from tradewind.db import engine as db_engine
from tradewind.db.models import User

OPEN_PATHS = {"/api/v2/monitor/health", "/api/v2/version", "/api/v2/openapi.json", "/api/v2/docs"}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_api_route_needs_a_token(app: FastAPI, client: TestClient) -> None:
    checked = 0
    for path, operations in app.openapi()["paths"].items():
        if not path.startswith("/api/v2") or path in OPEN_PATHS:
            continue
        for method in operations:
            response = client.request(method.upper(), _concrete(path), json={})
            assert response.status_code == 401, (method, path, response.text)
            assert response.json() == {"detail": "Not authenticated"}
            checked += 1
    assert checked > 40


def test_bad_and_unknown_tokens_are_refused(app: FastAPI, client: TestClient) -> None:
    assert (
        client.get("/api/v2/dags", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    )
    stranger = app.state.tokens.issue("nobody", "0" * 32)
    assert (
        client.get("/api/v2/dags", headers={"Authorization": f"Bearer {stranger}"}).status_code
        == 401
    )
    assert client.get("/api/v2/monitor/health").status_code == 200
    assert client.get("/api/v2/version").json()["version"]


def test_token_endpoint(client: TestClient) -> None:
    response = client.post("/auth/token", json={"username": "viewer", "password": "correct horse"})
    assert response.status_code == 201
    token = response.json()["access_token"]
    assert (
        client.get("/api/v2/dags", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    assert (
        client.post("/auth/token", json={"username": "viewer", "password": "wrong"}).status_code
        == 401
    )
    assert client.post("/auth/token", json={"username": "viewer"}).status_code == 422


# (method, path, body, the least role allowed)
MATRIX: list[tuple[str, str, dict | None, str]] = [
    ("GET", "/api/v2/dags", None, "Viewer"),
    ("GET", "/api/v2/variables", None, "Op"),
    ("GET", "/api/v2/connections", None, "Op"),
    ("GET", "/api/v2/pools", None, "Viewer"),
    ("PATCH", "/api/v2/dags/api_example?update_mask=is_paused", {"is_paused": False}, "User"),
    ("POST", "/api/v2/dags/api_example/dagRuns", {"dag_run_id": "perm"}, "User"),
    ("POST", "/api/v2/dags/api_example/clearTaskInstances", {"dry_run": True}, "User"),
    ("POST", "/api/v2/variables", {"key": "k", "value": "v"}, "Op"),
    ("POST", "/api/v2/pools", {"name": "p", "slots": 1}, "Op"),
    ("POST", "/api/v2/connections", {"connection_id": "c", "conn_type": "http"}, "Op"),
    ("GET", "/api/v2/config", None, "Op"),
]
ORDER = ["Viewer", "User", "Op", "Admin"]


def test_role_permissions(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    """Viewer reads; User also triggers, clears and pauses; Op also edits variables, pools and
    connections and reads the config; Admin may do everything."""
    for method, path, body, least in MATRIX:
        for role in ORDER:
            response = client.request(method, path, json=body, headers=auth(role))
            if ORDER.index(role) < ORDER.index(least):
                assert response.status_code == 403, (method, path, role, response.text)
                assert role in response.json()["detail"]
            else:
                assert response.status_code in (200, 201), (method, path, role, response.text)
                if method == "POST" and not path.endswith("clearTaskInstances"):
                    break  # created once; the next role would get a conflict


def test_failed_token_requests_are_counted_and_a_good_one_resets_the_count(
    client: TestClient, engine: Engine
) -> None:
    for _ in range(2):
        assert (
            client.post("/auth/token", json={"username": "viewer", "password": "wrong"}).status_code
            == 401
        )

    def failures(session: Any) -> int:
        return session.scalar(select(User.failed_login_count).where(User.username == "viewer"))

    assert db_engine.run_in_transaction(engine, failures, readonly=True) == 2
    assert (
        client.post("/auth/token", json={"username": "viewer", "password": PASSWORD}).status_code
        == 201
    )
    assert db_engine.run_in_transaction(engine, failures, readonly=True) == 0


def test_token_answers_take_as_long_for_unknown_users_as_for_wrong_passwords(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unknown names are checked against a dummy argon2 hash: timing does not tell who exists.
    The fixed delay is taken out so that the password check is what is compared."""
    monkeypatch.setattr(sign_in, "FAILED_LOGIN_DELAY", 0.0)

    def seconds(username: str) -> float:
        started = time.perf_counter()
        assert (
            client.post("/auth/token", json={"username": username, "password": "wrong"}).status_code
            == 401
        )
        return time.perf_counter() - started

    seconds("viewer"), seconds("ghost")  # warm-up: the dummy hash is made on first use
    known, unknown = [], []
    for _ in range(7):
        known.append(seconds("viewer"))
        unknown.append(seconds("ghost"))
    fast, slow = sorted([statistics.median(known), statistics.median(unknown)])
    assert fast >= 0.7 * slow, f"known {known} vs unknown {unknown}"
