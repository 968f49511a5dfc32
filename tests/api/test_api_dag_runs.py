"""``/api/v2/dags/{dag_id}/dagRuns``: trigger, list, read, mark, clear, delete."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tradewind.db import engine as db_engine
from tradewind.db.models import DagRun, Log, TaskInstance, TaskInstanceHistory


def _count(engine: Engine, model: type) -> int:
    return db_engine.run_in_transaction(
        engine, lambda s: s.scalar(select(func.count()).select_from(model))
    )


def test_trigger(client: TestClient, admin: dict[str, str], engine: Engine) -> None:
    response = client.post(
        "/api/v2/dags/api_example/dagRuns",
        json={"conf": {"n": 3}, "note": "by hand"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    run = response.json()
    assert (
        run["state"] == "queued"
        and run["run_type"] == "manual"
        and run["triggered_by"] == "rest_api"
    )
    assert run["logical_date"] is None and run["conf"] == {"n": 3} and run["note"] == "by hand"
    assert (
        run["dag_run_id"].startswith("manual__") and run["dag_versions"][0]["version_number"] == 1
    )

    dated = client.post(
        "/api/v2/dags/api_example/dagRuns",
        json={"dag_run_id": "dated", "logical_date": "2024-03-01T00:00:00Z"},
        headers=admin,
    ).json()
    assert dated["logical_date"] == "2024-03-01T00:00:00Z"
    assert (dated["data_interval_start"], dated["data_interval_end"]) == (
        "2024-02-29T00:00:00Z",
        "2024-03-01T00:00:00Z",
    )
    interval = client.post(
        "/api/v2/dags/api_example/dagRuns",
        json={
            "dag_run_id": "interval",
            "logical_date": "2024-04-01T00:00:00+02:00",
            "data_interval_start": "2024-03-01T00:00:00Z",
            "data_interval_end": "2024-03-31T00:00:00Z",
        },
        headers=admin,
    ).json()
    assert (
        interval["logical_date"] == "2024-03-31T22:00:00Z"
        and interval["data_interval_start"] == "2024-03-01T00:00:00Z"
    )

    def refused(body: object, status: int, words: str) -> None:
        answer = client.post("/api/v2/dags/api_example/dagRuns", json=body, headers=admin)
        assert answer.status_code == status, answer.text
        assert words in str(answer.json()["detail"]), answer.json()

    before = _count(engine, DagRun)
    refused({"conf": {"n": 0}}, 400, "invalid value for param 'n'")
    refused({"conf": {"n": "three"}}, 400, "param 'n'")
    refused({"conf": "n=3"}, 422, "dict")
    refused({"dag_run_id": "dated"}, 409, "already has a run with run_id 'dated'")
    refused({"dag_run_id": "again", "logical_date": "2024-03-01T00:00:00Z"}, 409, "logical date")
    refused({"dag_run_id": "bad id!"}, 400, "not allowed")
    refused({"logical_date": "yesterday"}, 422, "datetime")
    refused({"logical_date": "2024-03-01T00:00:00"}, 422, "timezone")
    refused({"data_interval_start": "2024-03-01T00:00:00Z"}, 422, "both")
    bad_json = client.post(
        "/api/v2/dags/api_example/dagRuns",
        content=b'{"conf": ',
        headers={**admin, "Content-Type": "application/json"},
    )
    assert bad_json.status_code == 422 and bad_json.json()["detail"][0]["type"] == "json_invalid"
    assert client.post("/api/v2/dags/nope/dagRuns", json={}, headers=admin).status_code == 404
    assert _count(engine, DagRun) == before
    events = db_engine.run_in_transaction(
        engine, lambda s: [r.event for r in s.scalars(select(Log))]
    )
    assert events.count("trigger_dag_run") == 3


def test_list_runs(client: TestClient, admin: dict[str, str], make_run: Callable[..., str]) -> None:
    first = make_run(run_id="first")
    make_run(run_id="second")
    make_run("api_mapped", run_id="other")

    def run_ids(url: str) -> list[str]:
        response = client.get(url, headers=admin)
        assert response.status_code == 200, response.text
        return [r["dag_run_id"] for r in response.json()["dag_runs"]]

    assert run_ids("/api/v2/dags/api_example/dagRuns") == ["first", "second"]
    assert run_ids("/api/v2/dags/~/dagRuns?order_by=-dag_run_id") == ["second", "other", "first"]
    assert run_ids("/api/v2/dags/~/dagRuns?dag_id_pattern=mapped") == ["other"]
    assert run_ids("/api/v2/dags/api_example/dagRuns?run_id_pattern=sec") == ["second"]
    assert run_ids("/api/v2/dags/api_example/dagRuns?state=running") == ["first", "second"]
    assert run_ids("/api/v2/dags/api_example/dagRuns?state=failed") == []
    assert run_ids("/api/v2/dags/api_example/dagRuns?limit=1&offset=1") == ["second"]
    assert run_ids(
        "/api/v2/dags/api_example/dagRuns?start_date_gte=2000-01-01T00:00:00Z&run_type=manual"
    ) == ["first", "second"]
    assert run_ids("/api/v2/dags/api_example/dagRuns?end_date_lte=2000-01-01") == []
    page = client.get("/api/v2/dags/~/dagRuns?cursor=&limit=2", headers=admin).json()
    assert page["total_entries"] == 3 and page["next_cursor"] and page["previous_cursor"] is None
    rest = client.get(
        f"/api/v2/dags/~/dagRuns?cursor={page['next_cursor']}&limit=2", headers=admin
    ).json()
    assert [r["dag_run_id"] for r in rest["dag_runs"]] == ["other"] and rest["next_cursor"] is None

    batch = client.post(
        "/api/v2/dags/~/dagRuns/list",
        json={"dag_ids": ["api_mapped"], "states": ["running"]},
        headers=admin,
    )
    assert [r["dag_run_id"] for r in batch.json()["dag_runs"]] == ["other"]
    assert (
        client.post(
            "/api/v2/dags/~/dagRuns/list", json={"page_limit": -1}, headers=admin
        ).status_code
        == 422
    )

    assert (
        client.get("/api/v2/dags/api_example/dagRuns?state=sleeping", headers=admin).status_code
        == 422
    )
    assert (
        client.get("/api/v2/dags/api_example/dagRuns?order_by=color", headers=admin).status_code
        == 400
    )
    assert (
        client.get("/api/v2/dags/api_example/dagRuns?cursor=%%%", headers=admin).status_code == 400
    )
    assert client.get("/api/v2/dags/nope/dagRuns", headers=admin).status_code == 404
    run = client.get(f"/api/v2/dags/api_example/dagRuns/{first}", headers=admin).json()
    assert run["state"] == "running" and run["start_date"] is not None
    assert client.get("/api/v2/dags/api_example/dagRuns/nope", headers=admin).status_code == 404


def test_mark_run_success_and_failed(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
    set_ti: Callable[..., None],
    engine: Engine,
) -> None:
    run_id = make_run(run_id="to_fail")
    set_ti(run_id, "extract", state="success", try_number=1)
    set_ti(run_id, "transform", state="running", try_number=1)
    response = client.patch(
        "/api/v2/dags/api_example/dagRuns/to_fail", json={"state": "failed"}, headers=admin
    )
    assert response.status_code == 200 and response.json()["state"] == "failed"
    states = client.get(
        "/api/v2/dags/api_example/dagRuns/to_fail/taskInstances", headers=admin
    ).json()
    assert {t["task_id"]: t["state"] for t in states["task_instances"]} == {
        "extract": "success",
        "transform": "failed",
        "load": "skipped",
    }

    make_run(run_id="to_succeed")
    response = client.patch(
        "/api/v2/dags/api_example/dagRuns/to_succeed?update_mask=state",
        json={"state": "success", "note": "ignored by the mask"},
        headers=admin,
    )
    assert response.json()["state"] == "success" and response.json()["note"] is None
    states = client.get(
        "/api/v2/dags/api_example/dagRuns/to_succeed/taskInstances", headers=admin
    ).json()
    assert {t["state"] for t in states["task_instances"]} == {"success"}
    noted = client.patch(
        "/api/v2/dags/api_example/dagRuns/to_succeed", json={"note": "checked"}, headers=admin
    ).json()
    assert noted["note"] == "checked" and noted["state"] == "success"
    queued = client.patch(
        "/api/v2/dags/api_example/dagRuns/to_succeed", json={"state": "queued"}, headers=admin
    ).json()
    assert queued["state"] == "queued"

    for bad in ({"state": "running"}, {"state": None, "colour": "red"}, {"note": "x" * 1001}):
        assert (
            client.patch(
                "/api/v2/dags/api_example/dagRuns/to_fail", json=bad, headers=admin
            ).status_code
            == 422
        )
    assert (
        client.patch(
            "/api/v2/dags/api_example/dagRuns/nope", json={"state": "failed"}, headers=admin
        ).status_code
        == 404
    )
    assert (
        client.get("/api/v2/dags/api_example/dagRuns/to_fail", headers=admin).json()["state"]
        == "failed"
    )


def test_clear_run(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
    set_ti: Callable[..., None],
    engine: Engine,
) -> None:
    run_id = make_run(run_id="done")
    set_ti(run_id, "extract", state="success", try_number=1)
    set_ti(run_id, "transform", state="failed", try_number=2)
    set_ti(run_id, "load", state="upstream_failed", try_number=0)
    client.patch("/api/v2/dags/api_example/dagRuns/done", json={"state": "failed"}, headers=admin)

    dry = client.post(
        "/api/v2/dags/api_example/dagRuns/done/clear", json={"only_failed": True}, headers=admin
    ).json()
    assert sorted(t["task_id"] for t in dry["task_instances"]) == ["load", "transform"]
    assert (
        client.get("/api/v2/dags/api_example/dagRuns/done", headers=admin).json()["state"]
        == "failed"
    )

    cleared = client.post(
        "/api/v2/dags/api_example/dagRuns/done/clear",
        json={"dry_run": False, "only_failed": True, "note": "retry"},
        headers=admin,
    )
    assert cleared.status_code == 200, cleared.text
    run = cleared.json()
    assert run["state"] == "queued" and run["note"] == "retry" and run["end_date"] is None
    tis = {
        t["task_id"]: t
        for t in client.get(
            "/api/v2/dags/api_example/dagRuns/done/taskInstances", headers=admin
        ).json()["task_instances"]
    }
    assert (tis["transform"]["state"], tis["transform"]["try_number"]) == (None, 2)
    assert tis["extract"]["state"] == "success"
    history = db_engine.run_in_transaction(
        engine,
        lambda s: [
            (h.task_id, h.try_number, h.state) for h in s.scalars(select(TaskInstanceHistory))
        ],
    )
    assert history == [("transform", 2, "failed")]
    clear_number = db_engine.run_in_transaction(
        engine, lambda s: s.scalar(select(DagRun.clear_number).where(DagRun.run_id == "done"))
    )
    assert clear_number == 1

    make_run(run_id="busy")
    set_ti("busy", "extract", state="running", try_number=1)
    conflict = client.post(
        "/api/v2/dags/api_example/dagRuns/busy/clear", json={"dry_run": False}, headers=admin
    )
    assert conflict.status_code == 409 and "extract" in conflict.json()["detail"]
    states = db_engine.run_in_transaction(
        engine,
        lambda s: sorted(
            (ti.task_id, ti.state)
            for ti in s.scalars(select(TaskInstance).where(TaskInstance.run_id == "busy"))
        ),
    )
    assert states == [("extract", "running"), ("load", None), ("transform", None)]
    assert (
        client.post(
            "/api/v2/dags/api_example/dagRuns/busy/clear", json={"only_new": True}, headers=admin
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/api/v2/dags/api_example/dagRuns/nope/clear", json={}, headers=admin
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/api/v2/dags/api_example/dagRuns/busy/clear", json={"dry_run": "maybe"}, headers=admin
        ).status_code
        == 422
    )


def test_delete_run(
    client: TestClient, admin: dict[str, str], make_run: Callable[..., str], engine: Engine
) -> None:
    make_run(run_id="gone")
    assert client.delete("/api/v2/dags/api_example/dagRuns/gone", headers=admin).status_code == 204
    assert client.get("/api/v2/dags/api_example/dagRuns/gone", headers=admin).status_code == 404
    assert _count(engine, TaskInstance) == 0
    assert client.delete("/api/v2/dags/api_example/dagRuns/gone", headers=admin).status_code == 404
    events = db_engine.run_in_transaction(
        engine, lambda s: [(r.event, r.run_id) for r in s.scalars(select(Log))]
    )
    assert events == [("delete_dag_run", "gone")]
