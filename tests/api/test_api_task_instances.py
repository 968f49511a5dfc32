"""Task instances: list, read, tries, mark state, clear; XCom entries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tradewind.db import engine as db_engine
from tradewind.db.models import DagRun, Log, TaskInstance, TaskInstanceHistory, XCom

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _add_history(engine: Engine, run_id: str, task_id: str, try_number: int, state: str) -> None:
    def add(session: object) -> None:
        ti = session.scalar(
            select(TaskInstance).where(  # type: ignore[attr-defined]
                TaskInstance.run_id == run_id, TaskInstance.task_id == task_id
            )
        )
        session.add(
            TaskInstanceHistory(  # type: ignore[attr-defined]
                task_instance_id=ti.id,
                dag_id=ti.dag_id,
                run_id=run_id,
                task_id=task_id,
                map_index=-1,
                try_number=try_number,
                max_tries=1,
                state=state,
                pool="default_pool",
                start_date=T0,
                end_date=T0,
                dag_version_id=ti.dag_version_id,
            )
        )

    db_engine.run_in_transaction(engine, add)


def test_list_and_get(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
    set_ti: Callable[..., None],
) -> None:
    make_run(run_id="r1")
    make_run("api_mapped", run_id="m1")
    set_ti("r1", "extract", state="success", try_number=1, start_date=T0, end_date=T0, duration=1.5)
    base = "/api/v2/dags/api_example/dagRuns/r1/taskInstances"
    body = client.get(base, headers=admin).json()
    assert body["total_entries"] == 3
    extract = next(t for t in body["task_instances"] if t["task_id"] == "extract")
    assert (
        extract["state"] == "success" and extract["duration"] == 1.5 and extract["try_number"] == 1
    )
    assert (
        extract["dag_version"]["version_number"] == 1
        and extract["run_after"]
        and extract["executor_config"] == "{}"
    )
    assert extract["operator_name"] == "@task" and extract["task_display_name"] == "extract"

    def task_ids(query: str, url: str = base) -> list[str]:
        response = client.get(f"{url}?{query}", headers=admin)
        assert response.status_code == 200, response.text
        return [t["task_id"] for t in response.json()["task_instances"]]

    assert task_ids("order_by=task_id") == ["extract", "load", "transform"]
    assert task_ids("order_by=-task_id&limit=1") == ["transform"]
    assert task_ids("state=success") == ["extract"]
    assert task_ids("state=none&order_by=task_id") == ["load", "transform"]
    assert task_ids("duration_gte=1") == ["extract"]
    assert task_ids("task_id=load") == ["load"]
    assert sorted(task_ids("order_by=task_id", "/api/v2/dags/~/dagRuns/~/taskInstances")) == [
        "double",
        "extract",
        "load",
        "numbers",
        "transform",
    ]
    assert client.get(f"{base}?order_by=shoe_size", headers=admin).status_code == 400
    assert (
        client.get("/api/v2/dags/api_example/dagRuns/nope/taskInstances", headers=admin).status_code
        == 404
    )

    one = client.get(f"{base}/extract", headers=admin).json()
    assert one == extract
    missing = client.get(f"{base}/nope", headers=admin)
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


def test_mapped_instances(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
    engine: Engine,
) -> None:
    make_run("api_mapped", run_id="m1")

    def expand(session: object) -> None:
        placeholder = session.scalar(select(TaskInstance).where(TaskInstance.task_id == "double"))  # type: ignore[attr-defined]
        placeholder.map_index = 0
        placeholder.state = "success"
        session.add(
            TaskInstance(  # type: ignore[attr-defined]
                dag_id="api_mapped",
                run_id="m1",
                task_id="double",
                map_index=1,
                state="failed",
                try_number=1,
                pool="default_pool",
                dag_version_id=placeholder.dag_version_id,
            )
        )

    db_engine.run_in_transaction(engine, expand)
    base = "/api/v2/dags/api_mapped/dagRuns/m1/taskInstances/double"
    listed = client.get(f"{base}/listMapped", headers=admin).json()
    assert [(t["map_index"], t["state"]) for t in listed["task_instances"]] == [
        (0, "success"),
        (1, "failed"),
    ]
    one = client.get(f"{base}/1", headers=admin).json()
    assert (one["map_index"], one["rendered_map_index"], one["state"]) == (1, "1", "failed")
    assert client.get(f"{base}/7", headers=admin).status_code == 404
    assert client.get(base, headers=admin).status_code == 404
    tries = client.get(f"{base}/1/tries", headers=admin).json()
    assert [t["try_number"] for t in tries["task_instances"]] == [1]
    assert client.get(f"{base}/1/tries/1", headers=admin).json()["state"] == "failed"
    marked = client.patch(f"{base}/1", json={"new_state": "success"}, headers=admin).json()
    assert [(t["map_index"], t["state"]) for t in marked["task_instances"]] == [(1, "success")]


def test_tries(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
    set_ti: Callable[..., None],
    engine: Engine,
) -> None:
    make_run(run_id="r1")
    _add_history(engine, "r1", "extract", 1, "up_for_retry")
    set_ti("r1", "extract", state="success", try_number=2)
    base = "/api/v2/dags/api_example/dagRuns/r1/taskInstances/extract"
    tries = client.get(f"{base}/tries", headers=admin).json()
    assert tries["total_entries"] == 2
    assert [(t["try_number"], t["state"]) for t in tries["task_instances"]] == [
        (1, "up_for_retry"),
        (2, "success"),
    ]
    assert client.get(f"{base}/tries/1", headers=admin).json()["state"] == "up_for_retry"
    assert client.get(f"{base}/tries/2", headers=admin).json()["state"] == "success"
    assert client.get(f"{base}/tries/3", headers=admin).status_code == 404
    assert client.get(f"{base}/tries?map_index=3", headers=admin).status_code == 404


def test_mark_state(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
    set_ti: Callable[..., None],
    engine: Engine,
) -> None:
    make_run(run_id="r1")
    set_ti("r1", "extract", state="failed", try_number=1)
    set_ti("r1", "transform", state="upstream_failed")
    set_ti("r1", "load", state="upstream_failed")
    db_engine.run_in_transaction(
        engine, lambda s: setattr(s.scalar(select(DagRun)), "state", "failed")
    )
    base = "/api/v2/dags/api_example/dagRuns/r1/taskInstances"

    dry = client.patch(
        f"{base}/extract/dry_run", json={"new_state": "success"}, headers=admin
    ).json()
    assert [(t["task_id"], t["state"]) for t in dry["task_instances"]] == [("extract", "failed")]

    marked = client.patch(
        f"{base}/extract", json={"new_state": "success", "note": "fixed by hand"}, headers=admin
    )
    assert marked.status_code == 200, marked.text
    assert [(t["task_id"], t["state"]) for t in marked.json()["task_instances"]] == [
        ("extract", "success")
    ]
    states = {
        t["task_id"]: (t["state"], t["note"])
        for t in client.get(base, headers=admin).json()["task_instances"]
    }
    # The failed downstream instances are cleared so the run goes on, and the run is queued again.
    assert states == {
        "extract": ("success", "fixed by hand"),
        "transform": (None, None),
        "load": (None, None),
    }
    assert (
        client.get("/api/v2/dags/api_example/dagRuns/r1", headers=admin).json()["state"] == "queued"
    )

    again = client.patch(f"{base}/extract", json={"new_state": "success"}, headers=admin)
    assert (
        again.status_code == 409
        and again.json()["detail"] == "Task id extract is already in success state"
    )
    both = client.patch(
        f"{base}/extract", json={"new_state": "skipped", "include_downstream": True}, headers=admin
    )
    assert sorted(t["task_id"] for t in both.json()["task_instances"]) == [
        "extract",
        "load",
        "transform",
    ]
    noted = client.patch(
        f"{base}/load?update_mask=note", json={"new_state": "failed", "note": "n"}, headers=admin
    ).json()
    assert [(t["state"], t["note"]) for t in noted["task_instances"]] == [("skipped", "n")]

    for bad in (
        {"new_state": "running"},
        {"new_state": "queued"},
        {"new_state": 3},
        {"new_state": "success", "x": 1},
    ):
        response = client.patch(f"{base}/load", json=bad, headers=admin)
        assert response.status_code == 422, (bad, response.text)
    assert (
        client.patch(f"{base}/nope", json={"new_state": "success"}, headers=admin).status_code
        == 404
    )
    assert (
        client.patch(f"{base}/load/5", json={"new_state": "success"}, headers=admin).status_code
        == 404
    )
    events = db_engine.run_in_transaction(
        engine, lambda s: [(r.event, r.task_id) for r in s.scalars(select(Log))]
    )
    assert events.count(("patch_task_instance", "extract")) == 2


def test_clear_task_instances(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
    set_ti: Callable[..., None],
    engine: Engine,
) -> None:
    make_run(run_id="r1", logical_date=datetime(2024, 1, 1, tzinfo=UTC))
    make_run(run_id="r2", logical_date=datetime(2024, 1, 2, tzinfo=UTC))
    for run_id in ("r1", "r2"):
        for task_id in ("extract", "transform", "load"):
            set_ti(run_id, task_id, state="success", try_number=1)
    set_ti("r2", "transform", state="failed", try_number=2)
    url = "/api/v2/dags/api_example/clearTaskInstances"

    def cleared(body: dict) -> list[tuple[str, str]]:
        response = client.post(url, json=body, headers=admin)
        assert response.status_code == 200, response.text
        return sorted((t["dag_run_id"], t["task_id"]) for t in response.json()["task_instances"])

    assert cleared({}) == [("r2", "transform")]
    assert cleared(
        {
            "only_failed": False,
            "task_ids": ["extract"],
            "include_downstream": True,
            "dag_run_id": "r1",
        }
    ) == [("r1", "extract"), ("r1", "load"), ("r1", "transform")]
    assert cleared(
        {"only_failed": False, "task_ids": [["load", -1]], "dag_run_id": "r2", "include_past": True}
    ) == [("r1", "load"), ("r2", "load")]
    assert cleared(
        {"only_failed": False, "task_ids": ["load"], "start_date": "2024-01-02T00:00:00Z"}
    ) == [("r2", "load")]
    assert (
        client.get("/api/v2/dags/api_example/dagRuns/r2/taskInstances/load", headers=admin).json()[
            "state"
        ]
        == "success"
    )

    real = cleared(
        {
            "dry_run": False,
            "task_ids": ["transform"],
            "include_downstream": True,
            "only_failed": False,
            "dag_run_id": "r2",
        }
    )
    assert real == [("r2", "load"), ("r2", "transform")]
    states = db_engine.run_in_transaction(
        engine,
        lambda s: {
            (ti.run_id, ti.task_id): (ti.state, ti.try_number)
            for ti in s.scalars(select(TaskInstance))
        },
    )
    assert states[("r2", "transform")] == (None, 2) and states[("r2", "load")] == (None, 1)
    assert states[("r1", "load")] == ("success", 1)
    assert (
        client.get("/api/v2/dags/api_example/dagRuns/r2", headers=admin).json()["state"]
        == "running"
    )

    for body, status in (
        ({"task_ids": ["nope"]}, 404),
        ({"dag_run_id": "nope"}, 404),
        ({"task_ids": "load"}, 422),
        ({"dry_run": True, "unknown": 1}, 422),
        ({"run_on_latest_version": True}, 400),
    ):
        response = client.post(url, json=body, headers=admin)
        assert response.status_code == status, (body, response.text)
    assert (
        client.post("/api/v2/dags/nope/clearTaskInstances", json={}, headers=admin).status_code
        == 404
    )


def test_xcom_entries(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
    engine: Engine,
) -> None:
    make_run(run_id="r1")

    def push(session: object) -> None:
        session.add(
            XCom(
                dag_id="api_example",
                run_id="r1",
                task_id="extract",
                map_index=-1,
                key="return_value",  # type: ignore[attr-defined]
                value='{"rows":3,"when":{"__tw_type__":"datetime","v":"2024-01-01T00:00:00+00:00"}}',
                timestamp=T0,
            )
        )
        session.add(
            XCom(
                dag_id="api_example",
                run_id="r1",
                task_id="extract",
                map_index=-1,
                key="count",  # type: ignore[attr-defined]
                value="3",
                timestamp=T0,
            )
        )

    db_engine.run_in_transaction(engine, push)
    base = "/api/v2/dags/api_example/dagRuns/r1/taskInstances/extract/xcomEntries"
    listed = client.get(base, headers=admin).json()
    assert listed["total_entries"] == 2 and [e["key"] for e in listed["xcom_entries"]] == [
        "count",
        "return_value",
    ]
    assert (
        "value" not in listed["xcom_entries"][0]
        and listed["xcom_entries"][0]["task_display_name"] == "extract"
    )
    assert client.get(f"{base}?xcom_key=count", headers=admin).json()["total_entries"] == 1
    assert (
        client.get("/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries", headers=admin).json()[
            "total_entries"
        ]
        == 2
    )
    native = client.get(f"{base}/return_value", headers=admin).json()
    assert native["value"] == {"rows": 3, "when": "2024-01-01T00:00:00+00:00"}
    text = client.get(f"{base}/return_value?stringify=true", headers=admin).json()
    assert text["value"].startswith("{'rows': 3, 'when': datetime.datetime(2024, 1, 1")
    assert client.get(f"{base}/count", headers=admin).json()["value"] == 3
    assert client.get(f"{base}/nope", headers=admin).status_code == 404
    assert client.get(f"{base}/count?map_index=0", headers=admin).status_code == 404


def test_list_of_every_run_counts_and_orders_by_map_index(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
) -> None:
    """The total is counted without the runs unless a run's date filters (same numbers), and
    the default order is map index, then id."""
    make_run(run_id="r1", logical_date=datetime(2024, 1, 1, tzinfo=UTC))
    make_run(run_id="r2", logical_date=datetime(2024, 1, 2, tzinfo=UTC))
    url = "/api/v2/dags/~/dagRuns/~/taskInstances"
    body = client.get(f"{url}?limit=2", headers=admin).json()
    assert body["total_entries"] == 6 and len(body["task_instances"]) == 2
    listed = client.get(url, headers=admin).json()["task_instances"]
    assert [t["dag_run_id"] for t in listed] == ["r1"] * 3 + ["r2"] * 3  # ids in creation order
    late = client.get(f"{url}?logical_date_gte=2024-01-02T00:00:00Z", headers=admin).json()
    assert late["total_entries"] == 3
    assert {t["dag_run_id"] for t in late["task_instances"]} == {"r2"}
    per_dag = client.get(
        "/api/v2/dags/api_example/dagRuns/~/taskInstances?run_after_lte=2030-01-01T00:00:00Z",
        headers=admin,
    ).json()
    assert per_dag["total_entries"] == 6
