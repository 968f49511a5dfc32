"""The audit log (``/eventLogs``), ``/config``, the OpenAPI document, health and version."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tradewind.dag_processing import processor_job
from tradewind.db import engine as db_engine
from tradewind.db.models import Job
from tradewind.scheduler import job_rows
from tradewind.sdk import timezone


def test_event_logs(client: TestClient, auth, admin: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    client.patch("/api/v2/dags/api_example", json={"is_paused": False}, headers=auth("User"))
    client.post(
        "/api/v2/dags/api_example/dagRuns",
        json={"dag_run_id": "r1", "conf": {"n": 2}},
        headers=auth("User"),
    )
    client.post(
        "/api/v2/connections",
        json={"connection_id": "c", "conn_type": "http", "password": "pw"},
        headers=admin,
    )
    logs = client.get("/api/v2/eventLogs", headers=auth("Viewer")).json()
    assert logs["total_entries"] == 3
    assert [(e["event"], e["owner"]) for e in logs["event_logs"]] == [
        ("post_connection", "admin"),
        ("trigger_dag_run", "user"),
        ("patch_dag", "user"),
    ]
    trigger = logs["event_logs"][1]
    assert (trigger["dag_id"], trigger["run_id"]) == ("api_example", "r1")
    assert '"conf": {"n": 2}' in trigger["extra"]
    assert (
        client.get(f"/api/v2/eventLogs/{trigger['event_log_id']}", headers=admin).json() == trigger
    )
    assert client.get("/api/v2/eventLogs/999", headers=admin).status_code == 404

    def events(query: str) -> list[str]:
        return [
            e["event"]
            for e in client.get(f"/api/v2/eventLogs?{query}", headers=admin).json()["event_logs"]
        ]

    assert events("dag_id=api_example&order_by=id") == ["patch_dag", "trigger_dag_run"]
    assert events("owner=admin") == ["post_connection"]
    assert events("event_pattern=dag") == ["trigger_dag_run", "patch_dag"]
    assert events("excluded_events=patch_dag&excluded_events=post_connection") == [
        "trigger_dag_run"
    ]
    assert events("after=2000-01-01T00:00:00Z&limit=1") == ["post_connection"]
    assert client.get("/api/v2/eventLogs?order_by=mood", headers=admin).status_code == 400


def test_config(client: TestClient, auth, admin: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    config = client.get("/api/v2/config", headers=admin).json()
    core = next(section for section in config["sections"] if section["name"] == "core")
    options = {option["key"]: option["value"] for option in core["options"]}
    assert options["fernet_key"] == "< hidden >" and options["parallelism"] == "32"
    database = client.get("/api/v2/config/section/database/option/url", headers=admin).json()
    assert database == {
        "sections": [{"name": "database", "options": [{"key": "url", "value": "< hidden >"}]}]
    }
    text = client.get("/api/v2/config?section=api", headers={**admin, "Accept": "text/plain"})
    assert text.text.startswith("[api]\n") and "secret_key = < hidden >" in text.text
    assert client.get("/api/v2/config?section=nope", headers=admin).status_code == 404
    assert client.get("/api/v2/config", headers=auth("User")).status_code == 403


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def test_openapi_document(app: FastAPI, client: TestClient) -> None:
    document = client.get("/api/v2/openapi.json").json()
    assert document["openapi"].startswith("3.")
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    operation_ids = [
        op["operationId"] for path in document["paths"].values() for op in path.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))
    for path in (
        "/api/v2/dags",
        "/api/v2/dags/{dag_id}/dagRuns",
        "/api/v2/variables/{variable_key}",
        "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}",
        "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}",
    ):
        assert path in document["paths"], path
    for name in (
        "DAGResponse",
        "DAGRunResponse",
        "TaskInstanceResponse",
        "VariableResponse",
        "PoolResponse",
    ):
        assert name in schemas, name
    assert set(schemas["DAGRunResponse"]["required"]) >= {
        "dag_run_id",
        "dag_id",
        "run_after",
        "run_type",
        "state",
        "dag_versions",
        "dag_display_name",
    }


def test_health_and_version(client: TestClient) -> None:
    health = client.get("/api/v2/monitor/health").json()
    assert health["metadatabase"] == {"status": "healthy"}
    assert health["scheduler"]["status"] == "unhealthy"
    assert "triggerer" in health
    assert health["dag_processor"] == {
        "status": None,
        "latest_dag_processor_heartbeat": None,
    }  # none has run


def test_health_follows_the_dag_processors_heartbeat(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    job_id = processor_job.register(engine)
    health = client.get("/api/v2/monitor/health").json()["dag_processor"]
    assert health["status"] == "healthy" and health["latest_dag_processor_heartbeat"]

    def age(session) -> None:  # type: ignore[no-untyped-def]
        session.get(Job, job_id).latest_heartbeat = timezone.utcnow() - timedelta(minutes=5)

    db_engine.run_in_transaction(engine, age)
    assert client.get("/api/v2/monitor/health").json()["dag_processor"]["status"] == "unhealthy"
    processor_job.heartbeat(engine, job_id)
    assert client.get("/api/v2/monitor/health").json()["dag_processor"]["status"] == "healthy"
    processor_job.end(engine, job_id)
    assert client.get("/api/v2/monitor/health").json()["dag_processor"]["status"] is None  # stopped


def test_health_names_the_running_schedulers_executor(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v2/monitor/health").json()["scheduler"]["executor"] is None
    db_engine.run_in_transaction(
        engine, lambda session: job_rows.register(session, timezone.utcnow(), "celery")
    )
    scheduler = client.get("/api/v2/monitor/health").json()["scheduler"]
    assert scheduler["status"] == "healthy" and scheduler["executor"] == "celery"


def test_numbers_out_of_range_are_bad_requests(
    client: TestClient, admin: dict[str, str], make_run
) -> None:  # type: ignore[no-untyped-def]
    make_run(run_id="r1")
    huge = "99999999999999999999999"
    for url in (
        f"/api/v2/importErrors/{huge}",
        f"/api/v2/dags?offset={huge}",
        f"/api/v2/eventLogs?map_index={huge}",
        f"/api/v2/dags/api_example/dagRuns/r1/taskInstances/load/logs/{huge}",
        f"/api/v2/dags/api_example/dagRuns/r1/taskInstances/load/{huge}",
    ):
        response = client.get(url, headers=admin)
        assert response.status_code == 400, (url, response.text)
        assert "out of range" in response.json()["detail"]
