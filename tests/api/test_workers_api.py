"""``GET /api/v2/workers``: the celery workers seen recently, in the public OpenAPI document,
read by any signed-in role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from remote_celery.worker_rows import add_tries, answer, record
from sqlalchemy.engine import Engine


def test_workers_lists_recent_workers_with_their_running_tries(
    client: TestClient, auth: Callable[[str], dict[str, str]], engine: Engine
) -> None:
    assert client.get("/api/v2/workers", headers=auth("Viewer")).json() == {
        "workers": [],
        "total_entries": 0,
    }
    now = datetime.now(UTC)
    record(
        engine,
        [
            answer("w1@host", now - timedelta(seconds=2), ["default", "gpu"], up=60),
            answer("w2@host", now - timedelta(minutes=2), concurrency=None, pid=None, up=None),
            answer("old@host", now - timedelta(hours=1)),
        ],
        now,
    )
    add_tries(engine, [("w1@host", "running", now - timedelta(seconds=1))])
    body = client.get("/api/v2/workers", headers=auth("Viewer")).json()
    assert body["total_entries"] == 2
    first, second = body["workers"]
    assert {k: first[k] for k in ("worker_name", "state", "queues", "concurrency")} == {
        "worker_name": "w1@host",
        "state": "online",
        "queues": ["default", "gpu"],
        "concurrency": 4,
    }
    assert first["running_tries"] == 1 and first["pid"] == 100
    assert _when(first["last_heartbeat"]) == now - timedelta(seconds=1)
    assert _when(first["started_at"]) == now - timedelta(seconds=62)
    assert second == {
        "worker_name": "w2@host",
        "state": "lost",
        "queues": ["default"],
        "concurrency": None,
        "running_tries": 0,
        "pid": None,
        "started_at": None,
        "last_heartbeat": second["last_heartbeat"],
    }


def test_workers_needs_credentials_and_is_documented(client: TestClient) -> None:
    assert client.get("/api/v2/workers").status_code == 401
    document: dict[str, Any] = client.get("/api/v2/openapi.json").json()
    operation = document["paths"]["/api/v2/workers"]["get"]
    assert operation["operationId"] == "get_workers"
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/WorkerCollectionResponse"}
    worker = document["components"]["schemas"]["WorkerResponse"]
    assert set(worker["required"]) >= {"worker_name", "state", "queues", "running_tries"}


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
