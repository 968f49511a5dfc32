"""Who may call the execution API: 401 without a valid token, 403 with another try's token or
the wrong scope, 503 when the API server has no token key."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tradewind import config
from tradewind.api.app import create_app
from tradewind.remote import tokens
from tradewind.remote.tokens import TryClaims

WHERE = {"hostname": "worker-1", "pid": 4242}


def _start(ti_id: int) -> str:
    return f"/execution/task-instances/{ti_id}/start"


def test_health_needs_no_token(client: TestClient) -> None:
    answer = client.get("/execution/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_a_call_without_a_token_is_unauthorized(
    client: TestClient, queued_try: Callable[..., TryClaims]
) -> None:
    claims = queued_try()
    answer = client.post(_start(claims.ti_id), json=WHERE)
    assert answer.status_code == 401
    assert "no execution API token" in answer.json()["detail"]
    assert answer.headers["www-authenticate"] == "Bearer"


def test_a_forged_token_is_unauthorized(
    client: TestClient,
    queued_try: Callable[..., TryClaims],
    try_token: Callable[..., dict[str, str]],
) -> None:
    claims = queued_try()
    headers = try_token(claims, tokens.QUEUED, secret="someone-elses-key-of-at-least-32-bytes")
    answer = client.post(_start(claims.ti_id), json=WHERE, headers=headers)
    assert answer.status_code == 401
    assert "invalid execution API token" in answer.json()["detail"]


def test_an_expired_token_is_unauthorized(
    client: TestClient,
    queued_try: Callable[..., TryClaims],
    try_token: Callable[..., dict[str, str]],
) -> None:
    claims = queued_try()
    headers = try_token(claims, tokens.QUEUED, ttl=60, now=time.time() - 3600)
    answer = client.post(_start(claims.ti_id), json=WHERE, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "execution API token expired"


def test_a_token_of_another_task_instance_is_forbidden(
    client: TestClient,
    queued_try: Callable[..., TryClaims],
    try_token: Callable[..., dict[str, str]],
) -> None:
    mine, other = queued_try("load"), queued_try("extract")
    answer = client.post(_start(mine.ti_id), json=WHERE, headers=try_token(other, tokens.QUEUED))
    assert answer.status_code == 403
    assert f"for task instance {other.ti_id}, not {mine.ti_id}" in answer.json()["detail"]


def test_a_queued_token_cannot_heartbeat(
    client: TestClient,
    queued_try: Callable[..., TryClaims],
    try_token: Callable[..., dict[str, str]],
) -> None:
    claims = queued_try()
    headers = try_token(claims, tokens.QUEUED)
    assert client.post(_start(claims.ti_id), json=WHERE, headers=headers).status_code == 200
    answer = client.post(
        f"/execution/task-instances/{claims.ti_id}/heartbeat", json=WHERE, headers=headers
    )
    assert answer.status_code == 403
    assert "a queued token cannot make this call" in answer.json()["detail"]


def test_without_a_token_key_the_execution_api_says_which_setting_to_set(
    api_settings: config.Settings, engine: Engine, queued_try: Callable[..., TryClaims]
) -> None:
    claims = queued_try()
    app = create_app(api_settings.with_values(api_auth__jwt_secret=None), engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        for answer in (
            client.get("/execution/health"),
            client.post(_start(claims.ti_id), json=WHERE),
        ):
            assert answer.status_code == 503
            assert "[api_auth] jwt_secret" in answer.json()["detail"]
        assert client.get("/api/v2/version").status_code == 200


def test_the_execution_api_is_not_in_the_public_document(client: TestClient) -> None:
    paths = client.get("/api/v2/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/execution")]
