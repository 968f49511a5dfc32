"""``/api/v2/backfills``: Airflow 3's backfill routes, through HTTP and the official client.

The DAG is ``api_example`` (daily from 2024-01-01, param ``n`` an integer >= 1).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tests.api.conftest import issue_token
from tradewind.db import engine as db_engine
from tradewind.db.models import Backfill, BackfillDagRun, DagRun, Log

URL = "/api/v2/backfills"
JANUARY = {
    "dag_id": "api_example",
    "from_date": "2024-01-01T00:00:00Z",
    "to_date": "2024-01-05T00:00:00Z",
}


def _count(engine: Engine, model: Any) -> int:
    return db_engine.run_in_transaction(
        engine, lambda s: s.scalar(select(func.count()).select_from(model)), readonly=True
    )


def _runs(engine: Engine) -> list[tuple[int, str, str]]:
    return db_engine.run_in_transaction(
        engine,
        lambda s: [
            (run.logical_date.day, run.run_type, run.state)
            for run in s.scalars(select(DagRun).order_by(DagRun.logical_date))
        ],
        readonly=True,
    )


def test_create_read_and_list_backfills(
    client: TestClient, auth: Callable[[str], dict[str, str]], engine: Engine
) -> None:
    user = auth("User")
    response = client.post(
        URL, json={**JANUARY, "max_active_runs": 2, "dag_run_conf": {"n": 3}}, headers=user
    )
    assert response.status_code == 200, response.text
    body = response.json()
    number = body["id"]
    assert {
        key: body[key]
        for key in (
            "dag_id",
            "dag_display_name",
            "from_date",
            "to_date",
            "is_paused",
            "reprocess_behavior",
            "max_active_runs",
            "dag_run_conf",
            "completed_at",
            "run_backwards",
            "state",
            "triggering_user_name",
            "progress",
        )
    } == {
        "dag_id": "api_example",
        "dag_display_name": "api_example",
        "from_date": "2024-01-01T00:00:00Z",
        "to_date": "2024-01-05T00:00:00Z",
        "is_paused": False,
        "reprocess_behavior": "none",
        "max_active_runs": 2,
        "dag_run_conf": {"n": 3},
        "completed_at": None,
        "run_backwards": False,
        "state": "running",
        "triggering_user_name": "user",
        "progress": {"total": 5, "done": 0, "succeeded": 0, "failed": 0, "running": 5},
    }
    assert _runs(engine) == [(day, "backfill", "queued") for day in range(1, 6)]
    event = db_engine.run_in_transaction(
        engine, lambda s: s.scalar(select(Log).where(Log.event == "create_backfill"))
    )
    assert (event.owner, event.dag_id, event.extra["backfill_id"]) == (
        "user",
        "api_example",
        number,
    )

    viewer = auth("Viewer")
    assert client.get(f"{URL}/{number}", headers=viewer).json() == body
    missing = client.get(f"{URL}/{number + 100}", headers=viewer)
    assert (missing.status_code, missing.json()) == (
        404,
        {"detail": f"backfill {number + 100} does not exist"},
    )

    second = client.post(
        URL,
        json={
            **JANUARY,
            "from_date": "2024-01-04",
            "to_date": "2024-01-08",
            "reprocess_behavior": "completed",
        },
        headers=user,
    ).json()
    assert second["max_active_runs"] == 16  # the DAG's own limit when none is given
    assert second["progress"]["total"] == 3  # days 4 and 5 are queued in the first one
    listed = client.get(URL, params={"dag_id": "api_example"}, headers=viewer).json()
    assert [b["id"] for b in listed["backfills"]] == [number, second["id"]] and listed[
        "total_entries"
    ] == 2
    page = client.get(
        URL,
        params={"dag_id": "api_example", "order_by": "-id", "limit": 1, "offset": 1},
        headers=viewer,
    ).json()
    assert ([b["id"] for b in page["backfills"]], page["total_entries"]) == ([number], 2)
    assert client.get(URL, params={"dag_id": "api_mapped"}, headers=viewer).json() == {
        "backfills": [],
        "total_entries": 0,
    }
    assert client.get(URL, params={"order_by": "nope"}, headers=viewer).status_code == 400


def test_pause_unpause_and_cancel(
    client: TestClient, auth: Callable[[str], dict[str, str]], engine: Engine
) -> None:
    user = auth("User")
    number = client.post(URL, json=JANUARY, headers=user).json()["id"]
    paused = client.put(f"{URL}/{number}/pause", headers=user).json()
    assert (paused["is_paused"], paused["state"]) == (True, "paused")
    resumed = client.put(f"{URL}/{number}/unpause", headers=user).json()
    assert (resumed["is_paused"], resumed["state"]) == (False, "running")
    cancelled = client.put(f"{URL}/{number}/cancel", headers=user)
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["state"], body["is_paused"], body["completed_at"] is not None) == (
        "cancelled",
        False,
        True,
    )
    assert body["progress"] == {"total": 5, "done": 5, "succeeded": 0, "failed": 5, "running": 0}
    assert {state for _, _, state in _runs(engine)} == {"failed"}
    for verb in ("pause", "unpause", "cancel"):
        response = client.put(f"{URL}/{number}/{verb}", headers=user)
        assert (response.status_code, response.json()) == (
            409,
            {"detail": f"backfill {number} is already cancelled"},
        )
    assert client.put(f"{URL}/{number + 100}/pause", headers=user).status_code == 404
    events = db_engine.run_in_transaction(
        engine, lambda s: list(s.scalars(select(Log.event).order_by(Log.id)))
    )
    assert events == ["create_backfill", "pause_backfill", "unpause_backfill", "cancel_backfill"]


def test_dry_run_lists_the_dates_it_would_run_and_changes_nothing(
    client: TestClient, auth: Callable[[str], dict[str, str]], engine: Engine
) -> None:
    user = auth("User")
    client.post(URL, json={**JANUARY, "to_date": "2024-01-02"}, headers=user)
    db_engine.run_in_transaction(
        engine,
        lambda s: s.execute(
            DagRun.__table__.update()
            .where(DagRun.logical_date == select(func.min(DagRun.logical_date)).scalar_subquery())
            .values(state="success")
        ),
    )
    before = [_count(engine, model) for model in (Backfill, BackfillDagRun, DagRun, Log)]
    response = client.post(
        f"{URL}/dry_run",
        json={**JANUARY, "to_date": "2024-01-03", "run_backwards": True},
        headers=user,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "backfills": [
            {
                "logical_date": "2024-01-03T00:00:00Z",
                "partition_key": None,
                "partition_date": None,
                "action": "create",
            },
        ],
        "total_entries": 1,
    }  # day 1 succeeded and day 2 is in flight: neither would run
    again = client.post(
        f"{URL}/dry_run",
        json={**JANUARY, "to_date": "2024-01-03", "reprocess_behavior": "completed"},
        headers=user,
    ).json()
    assert [(b["logical_date"][:10], b["action"]) for b in again["backfills"]] == [
        ("2024-01-01", "rerun"),
        ("2024-01-03", "create"),
    ]
    assert [_count(engine, model) for model in (Backfill, BackfillDagRun, DagRun, Log)] == before


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({**JANUARY, "dag_id": "nope"}, 404, "DAG 'nope' not found"),
        ({**JANUARY, "from_date": "2024-02-01"}, 422, "is before the start date"),
        (
            {**JANUARY, "from_date": "2023-01-01", "to_date": "2023-01-31"},
            422,
            "ends before the DAG's start_date",
        ),
        ({**JANUARY, "dag_id": "api_mapped"}, 422, "has no periodic schedule"),
        (
            {**JANUARY, "from_date": "2999-01-01", "to_date": "2999-01-02"},
            422,
            "ends in the future",
        ),
        ({**JANUARY, "dag_run_conf": {"n": 0}}, 422, "invalid conf for DAG 'api_example'"),
        ({**JANUARY, "max_active_runs": 0}, 422, "must be at least 1"),
        ({**JANUARY, "reprocess_behavior": "sometimes"}, 422, None),
        ({"dag_id": "api_example"}, 422, None),
    ],
)
def test_bad_input_creates_nothing(
    client: TestClient,
    auth: Callable[[str], dict[str, str]],
    engine: Engine,
    body: dict[str, Any],
    status: int,
    message: str | None,
) -> None:
    for url in (URL, f"{URL}/dry_run"):
        response = client.post(url, json=body, headers=auth("User"))
        assert response.status_code == status, response.text
        if message is not None and status == 422:
            # The shape the document declares for 422: a list of errors.
            assert [e["loc"] for e in response.json()["detail"]] == [["body"]]
            assert message in response.json()["detail"][0]["msg"]
        elif message is not None:
            assert message in response.json()["detail"]
    assert [_count(engine, model) for model in (Backfill, DagRun, Log)] == [0, 0, 0]


def test_viewers_read_and_users_change(
    client: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    number = client.post(URL, json=JANUARY, headers=auth("Op")).json()["id"]
    viewer = auth("Viewer")
    assert client.get(URL, params={"dag_id": "api_example"}, headers=viewer).status_code == 200
    assert client.get(f"{URL}/{number}", headers=viewer).status_code == 200
    for method, path in (
        ("POST", URL),
        ("POST", f"{URL}/dry_run"),
        ("PUT", f"{URL}/{number}/pause"),
        ("PUT", f"{URL}/{number}/unpause"),
        ("PUT", f"{URL}/{number}/cancel"),
    ):
        response = client.request(method, path, json=JANUARY, headers=viewer)
        assert (response.status_code, response.json()) == (
            403,
            {"detail": "Forbidden: role Viewer may not run"},
        )
    assert client.put(f"{URL}/{number}/pause", headers=auth("User")).status_code == 200


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """The app served over HTTP from a thread of this process, for the official client."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    served = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not served.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        served.should_exit = True
        thread.join(timeout=10)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_official_client_manages_a_backfill(server: str, app: FastAPI, engine: Engine) -> None:
    ac = pytest.importorskip("airflow_client.client")
    from datetime import datetime

    configuration = ac.Configuration(host=server, access_token=issue_token(app, engine, "user"))
    with ac.ApiClient(configuration) as api_client:
        backfills = ac.BackfillApi(api_client)
        body = ac.BackfillPostBody(
            dag_id="api_example",
            from_date=datetime(2024, 1, 1, tzinfo=UTC),
            to_date=datetime(2024, 1, 3, tzinfo=UTC),
            reprocess_behavior=ac.ReprocessBehavior.FAILED,
            dag_run_conf={"n": 2},
            max_active_runs=2,
        )
        dry = backfills.create_backfill_dry_run(body)
        assert [item.logical_date.day for item in dry.backfills] == [
            1,
            2,
            3,
        ] and dry.total_entries == 3
        created = backfills.create_backfill(body)
        assert (
            created.dag_id,
            created.max_active_runs,
            created.reprocess_behavior,
            created.is_paused,
        ) == ("api_example", 2, ac.ReprocessBehavior.FAILED, False)
        assert created.from_date == datetime(2024, 1, 1, tzinfo=UTC) and created.dag_run_conf == {
            "n": 2
        }
        listed = backfills.list_backfills(dag_id="api_example")
        assert [b.id for b in listed.backfills] == [created.id] and listed.total_entries == 1
        assert backfills.pause_backfill(created.id).is_paused is True
        assert backfills.unpause_backfill(created.id).is_paused is False
        assert backfills.get_backfill(created.id).completed_at is None
        assert backfills.cancel_backfill(created.id).completed_at is not None
        with pytest.raises(ac.exceptions.ConflictException):
            backfills.pause_backfill(created.id)
        with pytest.raises(ac.exceptions.NotFoundException):
            backfills.get_backfill(created.id + 1)
        with pytest.raises(ac.exceptions.UnprocessableEntityException, match="ends in the future"):
            backfills.create_backfill(
                ac.BackfillPostBody(
                    dag_id="api_example",
                    from_date=datetime(2999, 1, 1, tzinfo=UTC),
                    to_date=datetime(2999, 1, 2, tzinfo=UTC),
                )
            )
