"""``/api/v2/dags``, ``/dags/{id}/details``, tasks, sources, versions, tags and import errors."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tradewind.db import engine as db_engine
from tradewind.db.models import Dag, Log


def test_list_dags_with_filters_order_and_pages(client: TestClient, admin: dict[str, str]) -> None:
    body = client.get("/api/v2/dags", headers=admin).json()
    assert body["total_entries"] == 2
    assert [d["dag_id"] for d in body["dags"]] == ["api_example", "api_mapped"]
    dag = body["dags"][0]
    assert dag["timetable_summary"] == "@daily"
    assert dag["timetable_description"] == "At 00:00, every day"
    assert dag["is_paused"] is True and dag["is_stale"] is False
    assert sorted(tag["name"] for tag in dag["tags"]) == ["api", "example"]
    assert dag["owners"] == ["tradewind"] and dag["relative_fileloc"] == "api_example.py"
    assert dag["next_dagrun_logical_date"] is not None and dag["file_token"]

    def ids(query: str) -> list[str]:
        response = client.get(f"/api/v2/dags?{query}", headers=admin)
        assert response.status_code == 200, response.text
        return [d["dag_id"] for d in response.json()["dags"]]

    assert ids("order_by=-dag_id") == ["api_mapped", "api_example"]
    assert ids("limit=1&offset=1") == ["api_mapped"]
    assert ids("dag_id_pattern=MAPP") == ["api_mapped"]
    assert ids("dag_id_pattern=example|mapped") == ["api_example", "api_mapped"]
    assert ids("dag_id_pattern=~") == ["api_example", "api_mapped"]
    assert ids("dag_id_prefix_pattern=api_e") == ["api_example"]
    assert ids("tags=mapped") == ["api_mapped"]
    assert ids("tags=api&tags=mapped") == ["api_example", "api_mapped"]
    assert ids("tags=api&tags=mapped&tags_match_mode=all") == []
    assert ids("paused=false") == []
    assert ids("owners=tradewind&paused=true") == ["api_example", "api_mapped"]

    bad = client.get("/api/v2/dags?order_by=nonsense", headers=admin)
    assert bad.status_code == 400
    assert (
        bad.json()["detail"]
        == "Ordering with 'nonsense' is disallowed or the attribute does not exist on the model"
    )
    assert client.get("/api/v2/dags?limit=-1", headers=admin).status_code == 422
    assert client.get("/api/v2/dags?paused=maybe", headers=admin).status_code == 422


def test_get_dag_and_details(client: TestClient, admin: dict[str, str]) -> None:
    dag = client.get("/api/v2/dags/api_example", headers=admin).json()
    assert dag["dag_id"] == "api_example" and dag["description"] == "Extract, transform, load."
    details = client.get("/api/v2/dags/api_example/details", headers=admin).json()
    assert details["catchup"] is False and details["timezone"] == "UTC"
    assert details["params"]["n"]["value"] == 1
    assert details["params"]["n"]["schema"] == {"type": "integer", "minimum": 1}
    assert details["start_date"].startswith("2024-01-01T00:00:00")
    assert details["latest_dag_version"]["version_number"] == 1
    assert details["default_args"]["retries"] == 1
    missing = client.get("/api/v2/dags/nope", headers=admin)
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert client.get("/api/v2/dags/nope/details", headers=admin).status_code == 404


def test_pause_and_unpause(client: TestClient, admin: dict[str, str], engine: Engine) -> None:
    def next_run() -> object:
        return db_engine.run_in_transaction(
            engine, lambda s: s.get(Dag, "api_example").next_dagrun_create_after
        )

    response = client.patch(
        "/api/v2/dags/api_example?update_mask=is_paused", json={"is_paused": False}, headers=admin
    )
    assert response.status_code == 200 and response.json()["is_paused"] is False
    assert next_run() is not None
    assert (
        client.patch("/api/v2/dags/api_example", json={"is_paused": True}, headers=admin).json()[
            "is_paused"
        ]
        is True
    )

    bad_mask = client.patch(
        "/api/v2/dags/api_example?update_mask=description", json={"is_paused": True}, headers=admin
    )
    assert bad_mask.status_code == 400
    assert bad_mask.json()["detail"] == "Only `is_paused` field can be updated through the REST API"
    assert (
        client.patch(
            "/api/v2/dags/api_example", json={"is_paused": "sometimes"}, headers=admin
        ).status_code
        == 422
    )
    assert client.patch("/api/v2/dags/api_example", json={}, headers=admin).status_code == 422
    assert (
        client.patch(
            "/api/v2/dags/api_example",
            content=b"{not json",
            headers={**admin, "Content-Type": "application/json"},
        ).status_code
        == 422
    )
    assert (
        client.patch("/api/v2/dags/nope", json={"is_paused": True}, headers=admin).status_code
        == 404
    )

    many = client.patch(
        "/api/v2/dags?dag_id_pattern=~", json={"is_paused": False}, headers=admin
    ).json()
    assert many["total_entries"] == 2 and all(not d["is_paused"] for d in many["dags"])
    nothing = client.patch("/api/v2/dags", json={"is_paused": True}, headers=admin).json()
    assert nothing == {"dags": [], "total_entries": 0}
    events = db_engine.run_in_transaction(
        engine,
        lambda s: [
            (row.event, row.dag_id, row.owner) for row in s.scalars(select(Log).order_by(Log.id))
        ],
    )
    assert events[:2] == [
        ("patch_dag", "api_example", "admin"),
        ("patch_dag", "api_example", "admin"),
    ]
    assert ("patch_dags", "api_mapped", "admin") in events


def test_delete_dag(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
    set_ti: Callable[..., None],
) -> None:
    run_id = make_run("api_mapped")
    set_ti(run_id, "numbers", dag_id="api_mapped", state="running", try_number=1)
    busy = client.delete("/api/v2/dags/api_mapped", headers=admin)
    assert busy.status_code == 409 and "still running" in busy.json()["detail"]
    set_ti(run_id, "numbers", dag_id="api_mapped", state="success")
    assert client.delete("/api/v2/dags/api_mapped", headers=admin).status_code == 204
    assert client.get("/api/v2/dags/api_mapped", headers=admin).status_code == 404
    assert client.get("/api/v2/dags/~/dagRuns", headers=admin).json()["total_entries"] == 0
    assert client.delete("/api/v2/dags/api_mapped", headers=admin).status_code == 404


def test_tasks(client: TestClient, admin: dict[str, str]) -> None:
    tasks = client.get("/api/v2/dags/api_example/tasks", headers=admin).json()
    assert tasks["total_entries"] == 3
    assert [t["task_id"] for t in tasks["tasks"]] == ["extract", "load", "transform"]
    load = client.get("/api/v2/dags/api_example/tasks/load", headers=admin).json()
    assert load["operator_name"] == "BashOperator" and load["retries"] == 1
    assert load["retry_delay"] == {
        "__type": "TimeDelta",
        "days": 0,
        "seconds": 1,
        "microseconds": 0,
    }
    assert load["template_fields"] and load["class_ref"]["class_name"] == "BashOperator"
    assert client.get("/api/v2/dags/api_example/tasks/extract", headers=admin).json()[
        "downstream_task_ids"
    ] == ["transform"]
    reverse = client.get("/api/v2/dags/api_example/tasks?order_by=-task_id", headers=admin).json()
    assert [t["task_id"] for t in reverse["tasks"]] == ["transform", "load", "extract"]
    assert (
        client.get("/api/v2/dags/api_example/tasks?order_by=bogus", headers=admin).status_code
        == 400
    )
    assert client.get("/api/v2/dags/api_example/tasks/nope", headers=admin).status_code == 404
    mapped = client.get("/api/v2/dags/api_mapped/tasks/double", headers=admin).json()
    assert mapped["is_mapped"] is True


def test_sources_versions_and_tags(client: TestClient, admin: dict[str, str]) -> None:
    source = client.get("/api/v2/dagSources/api_example", headers=admin).json()
    assert source["version_number"] == 1 and 'DAG(\n    "api_example"' in source["content"]
    text = client.get("/api/v2/dagSources/api_example", headers={**admin, "Accept": "text/plain"})
    assert text.headers["content-type"].startswith("text/plain") and text.text == source["content"]
    assert (
        client.get("/api/v2/dagSources/api_example?version_number=1", headers=admin).status_code
        == 200
    )
    assert (
        client.get("/api/v2/dagSources/api_example?version_number=7", headers=admin).status_code
        == 404
    )
    assert client.get("/api/v2/dagSources/nope", headers=admin).status_code == 404

    versions = client.get("/api/v2/dags/api_example/dagVersions", headers=admin).json()
    assert versions["total_entries"] == 1
    version = versions["dag_versions"][0]
    assert version["version_number"] == 1 and version["bundle_name"] == "dags-folder"
    assert client.get("/api/v2/dags/api_example/dagVersions/1", headers=admin).json() == version
    assert client.get("/api/v2/dags/api_example/dagVersions/2", headers=admin).status_code == 404
    assert client.get("/api/v2/dags/~/dagVersions", headers=admin).json()["total_entries"] == 2

    tags = client.get("/api/v2/dagTags", headers=admin).json()
    assert tags == {"tags": ["api", "example", "mapped"], "total_entries": 3}
    assert client.get("/api/v2/dagTags?tag_name_pattern=ex&order_by=-name", headers=admin).json()[
        "tags"
    ] == ["example"]


def test_import_errors(client: TestClient, admin: dict[str, str]) -> None:
    errors = client.get("/api/v2/importErrors", headers=admin).json()
    assert errors["total_entries"] == 1
    error = errors["import_errors"][0]
    assert error["filename"].endswith("broken.py") and "broken on purpose" in error["stack_trace"]
    assert (
        client.get(f"/api/v2/importErrors/{error['import_error_id']}", headers=admin).json()
        == error
    )
    assert client.get("/api/v2/importErrors/999", headers=admin).status_code == 404
    assert (
        client.get("/api/v2/importErrors?filename_pattern=nothing", headers=admin).json()[
            "total_entries"
        ]
        == 0
    )
