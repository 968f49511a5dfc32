"""``DELETE /api/v2/dags/{dag_id}`` of a DAG whose file stays: the DAG processor is woken, and
stores the DAG again as a new DAG (version 1, no runs), as Airflow does."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tradewind import config, wakeup
from tradewind.dag_processing.manager import DagProcessor


def test_a_deleted_dag_wakes_the_processor_and_comes_back_new(
    client: TestClient,
    admin: dict[str, str],
    api_settings: config.Settings,
    engine: Engine,
    make_run: Callable[..., str],
) -> None:
    make_run("api_mapped")
    listener = wakeup.open_listener(api_settings.home, wakeup.DAG_PROCESSOR)
    assert listener is not None
    try:
        assert client.delete("/api/v2/dags/api_mapped", headers=admin).status_code == 204
        deadline = time.monotonic() + 5
        while not wakeup.received(listener):
            assert time.monotonic() < deadline, "the DAG processor was not woken"
            time.sleep(0.01)
    finally:
        listener.close()
    assert client.get("/api/v2/dags/api_mapped", headers=admin).status_code == 404

    DagProcessor(api_settings, engine).run_once()
    dag = client.get("/api/v2/dags/api_mapped", headers=admin).json()
    assert dag["dag_id"] == "api_mapped" and dag["is_paused"] is True
    versions = client.get("/api/v2/dags/api_mapped/dagVersions", headers=admin).json()
    assert [v["version_number"] for v in versions["dag_versions"]] == [1]
    assert client.get("/api/v2/dags/api_mapped/dagRuns", headers=admin).json()["total_entries"] == 0
