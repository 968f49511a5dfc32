"""What a running remote try reads and writes besides its state: answers to its requests, its
log (readable live through the REST logs route) and its DAG version's bundle."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.api.execution.conftest import WHERE, RemoteTry
from tradewind import config
from tradewind.api.app import create_app
from tradewind.db import engine as db_engine
from tradewind.db.models import DagBundle, DagVersion, TaskInstance, XCom
from tradewind.remote import tokens
from tradewind.remote.tokens import TryClaims
from tradewind.runner import xcom_codec
from tradewind.sdk import timezone
from tradewind.sdk.states import TaskInstanceState as TIS

Headers = Callable[..., dict[str, str]]


def _url(claims: TryClaims, call: str) -> str:
    return f"/execution/task-instances/{claims.ti_id}/{call}"


def _running(client: TestClient, claims: TryClaims, try_token: Headers) -> dict[str, str]:
    answer = client.post(
        _url(claims, "start"), json=WHERE, headers=try_token(claims, tokens.QUEUED)
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_requests_are_answered_as_a_local_try_s(
    client: TestClient, engine: Engine, queued_try: Callable[..., TryClaims], try_token: Headers
) -> None:
    claims = queued_try("load")
    headers = _running(client, claims, try_token)

    def push(session: Any) -> None:
        session.add(
            XCom(
                dag_id=claims.dag_id,
                run_id=claims.run_id,
                task_id="transform",
                map_index=-1,
                key="return_value",
                value=xcom_codec.encode({"rows": 3}),
                timestamp=timezone.utcnow(),
            )
        )

    db_engine.run_in_transaction(engine, push)
    request = {
        "op": "xcom_get",
        "dag_id": claims.dag_id,
        "run_id": claims.run_id,
        "task_id": "transform",
        "map_index": -1,
        "key": "return_value",
    }
    answer = client.post(_url(claims, "requests"), json=request, headers=headers)
    assert answer.status_code == 200, answer.text
    assert xcom_codec.decode(answer.json()["value"]) == {"rows": 3}
    missing = client.post(
        _url(claims, "requests"), json={"op": "variable_get", "key": "nope"}, headers=headers
    )
    assert missing.json() == {"value": None}


def test_a_request_that_is_none_of_the_known_ones_is_refused(
    started_try: Callable[..., RemoteTry],
) -> None:
    remote = started_try()
    for body, complaint in (
        ({"op": "drop_tables"}, "unknown request 'drop_tables'"),
        ({"op": "variable_get"}, "request 'variable_get' does not fit"),
    ):
        answer = remote.post("requests", json=body)
        assert answer.status_code == 400
        assert complaint in answer.json()["detail"]
        assert "the requests are: connection_get" in answer.json()["detail"]


def test_requests_of_a_try_no_longer_running_are_refused(
    started_try: Callable[..., RemoteTry],
) -> None:
    remote = started_try()
    remote.set(state=TIS.FAILED)
    answer = remote.post("requests", json={"op": "variable_get", "key": "k"})
    assert answer.status_code == 409


def test_log_chunks_at_offsets_are_readable_through_the_rest_logs_route(
    client: TestClient,
    queued_try: Callable[..., TryClaims],
    try_token: Headers,
    admin: dict[str, str],
    set_ti: Callable[..., None],
) -> None:
    claims = queued_try()
    headers = _running(client, claims, try_token)
    logs = (
        f"/api/v2/dags/{claims.dag_id}/dagRuns/{quote(claims.run_id, safe='')}"
        f"/taskInstances/{claims.task_id}/logs/1"
    )

    def ship(offset: int, data: bytes) -> Any:
        return client.post(
            _url(claims, "logs"), params={"offset": offset}, content=data, headers=headers
        )

    first = b"[2026-01-01T00:00:00+00:00] {x.py:1} INFO - one\npart"
    assert ship(0, first).json() == {"size": len(first)}
    assert ship(0, first).json() == {"size": len(first)}  # sent again: the same bytes
    # While the try runs, a reader sees only whole lines.
    live = client.get(logs, headers={**admin, "Accept": "text/plain"})
    assert live.status_code == 200
    assert live.text == "[2026-01-01T00:00:00+00:00] {x.py:1} INFO - one\n"
    assert "Airflow-Continuation-Token" in live.headers

    gap = ship(len(first) + 10, b"lost?\n")
    assert gap.status_code == 409
    assert f"send the log from byte {len(first)}" in gap.json()["detail"]
    rest = b" two\n"
    assert ship(len(first), rest).json() == {"size": len(first) + len(rest)}
    set_ti(claims.run_id, claims.task_id, state=TIS.SUCCESS)
    whole = client.get(logs, headers=admin)
    assert [message["event"] for message in whole.json()["content"]] == ["one", "part two"]


def test_log_chunks_need_the_current_try_and_an_offset(
    started_try: Callable[..., RemoteTry],
) -> None:
    remote = started_try()
    no_offset = remote.post("logs", content=b"x\n")
    assert no_offset.status_code == 422
    remote.set(try_number=2)
    late = remote.post("logs", params={"offset": 0}, content=b"x\n")
    assert late.status_code == 409
    assert "is at try 2 now, not 1" in late.json()["detail"]


def test_a_log_chunk_over_the_body_limit_is_refused(
    api_settings: config.Settings,
    engine: Engine,
    queued_try: Callable[..., TryClaims],
    try_token: Headers,
) -> None:
    claims = queued_try()
    app = create_app(api_settings.with_values(api__max_body_bytes=1024), engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = _running(client, claims, try_token)
        answer = client.post(
            _url(claims, "logs"), params={"offset": 0}, content=b"x" * 2048, headers=headers
        )
    assert answer.status_code == 413
    assert "[api] max_body_bytes" in answer.json()["detail"]


def test_the_bundle_is_served_with_its_hash(
    client: TestClient, engine: Engine, queued_try: Callable[..., TryClaims], try_token: Headers
) -> None:
    claims = queued_try()
    content = b"PK\x05\x06" + b"\x00" * 18  # an empty zip archive
    digest = hashlib.sha256(content).hexdigest()

    def store(session: Any) -> None:
        session.add(DagBundle(hash=digest, content=content, size=len(content)))
        version_id = session.get(TaskInstance, claims.ti_id).dag_version_id
        session.get(DagVersion, version_id).bundle_hash = digest

    def forget(session: Any) -> None:  # as a version stored before bundles existed
        version_id = session.get(TaskInstance, claims.ti_id).dag_version_id
        session.get(DagVersion, version_id).bundle_hash = None

    db_engine.run_in_transaction(engine, forget)
    queued = try_token(claims, tokens.QUEUED)
    missing = client.get(_url(claims, "bundle"), headers=queued)
    assert missing.status_code == 404
    assert "has no bundle" in missing.json()["detail"]
    db_engine.run_in_transaction(engine, store)
    answer = client.get(_url(claims, "bundle"), headers=queued)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["X-Tradewind-Bundle-Hash"] == digest
    assert answer.content == content
