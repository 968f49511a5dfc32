"""On PostgreSQL a trigger made through an API server on another host (here: another home, so
the home's wake-up datagram cannot reach the scheduler) wakes the scheduler through a database
notification: the run starts long before the scheduler's next idle look (``max_loop_interval``
is set far beyond the test's wait)."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from e2e.conftest import Deployment
from tests.ui import headless
from tradewind.db.models.job import Job, JobState

pytestmark = pytest.mark.slow

QUICK = """
    from tradewind import DAG, PythonOperator

    with DAG("quick", schedule=None, is_paused_upon_creation=False) as dag:
        PythonOperator(task_id="only", python_callable=lambda: "done")
"""


def _post(url: str, body: dict[str, object], token: str | None = None) -> dict[str, object]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return dict(json.loads(answer.read()))


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_trigger_from_an_api_server_elsewhere_wakes_the_scheduler(
    deployment: Deployment, tmp_path: Path
) -> None:
    d = deployment
    d.env["TRADEWIND__SCHEDULER__MAX_LOOP_INTERVAL"] = "600"
    d.write("quick.py", QUICK)
    d.parse()
    assert d.cli("users", "create", "-u", "admin", "-p", "pw", "-r", "Admin").returncode == 0
    d.start("scheduler")
    elsewhere = {**d.env, "TRADEWIND_HOME": str(tmp_path / "api-host")}
    with headless.api_server(elsewhere, tmp_path / "api-server.log") as url:
        # The scheduler has made its first passes and sleeps for up to 600 s.
        d.wait_for(
            lambda: d.read(lambda s: s.scalar(select(Job.id).where(Job.state == JobState.RUNNING))),
            30,
            "the scheduler to be running",
            interval=0.3,
        )
        time.sleep(1)
        signed_in = _post(f"{url}/auth/token", {"username": "admin", "password": "pw"})
        trigger = {"dag_run_id": "r1", "logical_date": None}
        _post(f"{url}/api/v2/dags/quick/dagRuns", trigger, str(signed_in["access_token"]))
        final = d.ended_run("quick", "r1", 60)
    assert final["state"] == "success", final
