"""What the server does before a route reads a request: the body limit (``[api] max_body_bytes``)
by ``Content-Length`` and on a streamed body, 401 before a stranger's body is read, ``nosniff``
on every response, and ``Allow`` on 405."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.api.conftest import PASSWORD
from tests.ui.helpers import csrf_of
from tests.ui.helpers import token as csrf_token_of
from tradewind import config
from tradewind.api.app import create_app
from tradewind.services import task_logs

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

LIMIT = 10_000


def sign_in(client: TestClient, username: str) -> None:
    answer = client.post(
        "/login",
        follow_redirects=False,
        data={
            "username": username,
            "password": PASSWORD,
            "csrf_token": csrf_of(client.get("/login").text),
        },
    )
    assert answer.status_code == 303, answer.text


@pytest.fixture
def small_app(app: FastAPI, api_settings: config.Settings, engine: Engine) -> FastAPI:
    """The app with a 10 kB body limit (same metastore, users and signing key as ``app``)."""
    return create_app(api_settings.with_values(api__max_body_bytes=LIMIT), engine)


class Call:
    """One request sent straight to the ASGI app: the body in ``chunks``, none of them sent
    before the app asks for it, so ``chunks_read`` tells how much of the body it read."""

    def __init__(
        self, app: FastAPI, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
    ) -> None:
        self.chunks_read = 0
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        asyncio.run(self._run(app, method, path, headers, chunks))

    async def _run(
        self, app: FastAPI, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
    ) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 1234),
            "server": ("127.0.0.1", 80),
        }

        async def receive() -> dict[str, Any]:
            if self.chunks_read < len(chunks):
                self.chunks_read += 1
                return {
                    "type": "http.request",
                    "body": chunks[self.chunks_read - 1],
                    "more_body": self.chunks_read < len(chunks),
                }
            await asyncio.sleep(3600)  # the client sent everything; only a disconnect would come
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                self.headers = {
                    k.decode().lower(): v.decode() for k, v in message.get("headers", [])
                }
            elif message["type"] == "http.response.body":
                self.body += message.get("body", b"")

        await asyncio.wait_for(app(scope, receive, send), timeout=30)


def test_body_over_the_limit_by_content_length_is_413_unread(
    small_app: FastAPI,
    auth: Callable[[str], dict[str, str]],
) -> None:
    chunks = [b"x" * 4096] * 10
    call = Call(
        small_app,
        "POST",
        "/api/v2/variables",
        {**auth("Admin"), "content-type": "application/json", "content-length": str(40960)},
        chunks,
    )
    assert call.status == 413
    assert call.chunks_read == 0
    assert call.headers["content-type"] == "application/json"
    assert (
        b'"detail"' in call.body and b"10000 bytes" in call.body and b"max_body_bytes" in call.body
    )


def test_streamed_body_over_the_limit_is_413_read_no_further(
    small_app: FastAPI,
    auth: Callable[[str], dict[str, str]],
) -> None:
    chunks = [b"x" * 4096] * 50  # 200 kB in chunks of 4 kB, no Content-Length
    call = Call(
        small_app,
        "POST",
        "/api/v2/variables",
        {**auth("Admin"), "content-type": "application/json", "transfer-encoding": "chunked"},
        chunks,
    )
    assert call.status == 413, call.body
    assert call.chunks_read == 3  # the chunk that passed 10 kB was the last one read
    assert b"10000 bytes" in call.body


def test_streamed_body_within_the_limit_is_served(
    small_app: FastAPI,
    auth: Callable[[str], dict[str, str]],
) -> None:
    body = b'{"key": "streamed", "value": "' + b"v" * 5000 + b'"}'
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    call = Call(
        small_app,
        "POST",
        "/api/v2/variables",
        {**auth("Admin"), "content-type": "application/json", "transfer-encoding": "chunked"},
        chunks,
    )
    assert call.status == 201, call.body


def test_unauthenticated_body_is_401_unread(app: FastAPI) -> None:
    chunks = [b'{"key": "k", "value": "v"}']
    for headers in (
        {},
        {"authorization": "Bearer forged"},
        {"authorization": "Basic YWRtaW46eA=="},
    ):
        call = Call(
            app,
            "POST",
            "/api/v2/variables",
            {**headers, "content-type": "application/json", "content-length": str(len(chunks[0]))},
            chunks,
        )
        assert (call.status, call.chunks_read) == (401, 0), headers
        assert (
            call.body == b'{"detail": "Not authenticated"}'
            and call.headers["www-authenticate"] == "Bearer"
        )
    huge = Call(
        app, "PATCH", "/api/v2/variables/k", {"content-length": str(400 * 1024 * 1024)}, [b"x"]
    )
    assert (huge.status, huge.chunks_read) == (401, 0)
    streamed = Call(
        app, "POST", "/api/v2/variables", {"transfer-encoding": "chunked"}, [b"x" * 1000] * 5
    )
    assert (streamed.status, streamed.chunks_read) == (401, 0)


def test_limit_applies_to_pages_too(small_app: FastAPI) -> None:
    with TestClient(small_app) as client:
        answer = client.post("/login", data={"username": "admin", "password": "x" * 20_000})
    assert answer.status_code == 413
    assert answer.json()["detail"].endswith("the limit is 10000 bytes ([api] max_body_bytes)")


def test_signed_in_session_passes_the_gate(client: TestClient) -> None:
    sign_in(client, "op")
    answer = client.post(
        "/api/v2/pools",
        json={"name": "from_session", "slots": 2},
        headers={"X-CSRF-Token": csrf_token_of(client)},
    )
    assert answer.status_code == 201, answer.text


def _responses(
    client: TestClient, admin: dict[str, str], settings: config.Settings
) -> Iterator[tuple[str, Any]]:
    log = task_logs.log_path(settings.log_folder, "api_example", "r1", "load", -1, 1)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("<html><script>alert(1)</script>\n", encoding="utf-8")
    base = "/api/v2/dags/api_example/dagRuns/r1/taskInstances/load/logs/1"
    yield "json", client.get("/api/v2/dags", headers=admin)
    yield "text log", client.get(base, headers={**admin, "Accept": "text/plain"})
    yield "ndjson log", client.get(base, headers={**admin, "Accept": "application/x-ndjson"})
    yield "404", client.get("/api/v2/variables/none", headers=admin)
    yield "401", client.get("/api/v2/dags")
    yield "422", client.get("/api/v2/dags?limit=-1", headers=admin)
    yield "static", client.get("/static/does-not-exist.css")
    yield "page", client.get("/login")
    sign_in(client, "viewer")
    yield "log.txt", client.get("/dags/api_example/runs/r1/tasks/load/log.txt?try_number=1")


def test_every_response_says_nosniff(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
    set_ti: Callable[..., None],
    api_settings: config.Settings,
) -> None:
    make_run(run_id="r1")
    set_ti("r1", "load", state="success", try_number=1)
    seen = {}
    for name, answer in _responses(client, admin, api_settings):
        seen[name] = answer.status_code
        assert answer.headers.get("x-content-type-options") == "nosniff", name
    assert seen["log.txt"] == 200 and seen["text log"] == 200


def test_server_error_says_nosniff(app: FastAPI, admin: dict[str, str]) -> None:
    @app.get("/api/v2/explode", include_in_schema=False)
    def explode() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/v2/explode", headers=admin)
    assert answer.status_code == 500
    assert answer.headers.get("x-content-type-options") == "nosniff"


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/v2/variables", {"GET", "POST"}),
        ("/api/v2/variables/some_key", {"GET", "PATCH", "DELETE"}),
        ("/api/v2/dags/api_example/dagRuns", {"GET", "POST"}),
        ("/api/v2/backfills/1/pause", {"PUT"}),
        ("/api/v2/version", {"GET"}),
    ],
)
def test_options_is_405_with_allow(
    client: TestClient, admin: dict[str, str], path: str, methods: set[str]
) -> None:
    answer = client.options(path, headers=admin)
    assert answer.status_code == 405
    assert set(answer.headers["allow"].split(", ")) == methods
    assert answer.json() == {"detail": "Method Not Allowed"}
