"""``tradewind celery list-workers`` against a real deployment (PostgreSQL, Redis, the API
server, a scheduler with the celery executor and one worker without database): the worker is
listed with its queues and pool size once the scheduler asked it, its running try is counted
while a task sleeps on it, and it is shown lost once it stopped answering."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow]

SLEEPER = """
    import time
    from pathlib import Path

    from tradewind import DAG, PythonOperator

    def sleep_until_released():
        deadline = time.monotonic() + 120
        while not Path({flag!r}).exists():
            assert time.monotonic() < deadline, "never released"
            time.sleep(0.1)

    with DAG("sleeper", schedule=None) as dag:
        PythonOperator(task_id="nap", python_callable=sleep_until_released)
"""


def _listed(d: Any, *extra: str) -> dict[str, dict[str, Any]]:
    result = d.cli("celery", "list-workers", "-o", "json", *extra)
    assert result.returncode == 0, result.stderr
    return {row["worker_name"]: row for row in json.loads(result.stdout)}


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_list_workers_shows_the_worker_its_queues_and_running_tries(
    celery_deployment: Any, tmp_path: Path
) -> None:
    d = celery_deployment
    d.env["TRADEWIND__CELERY__WORKER_INSPECT_INTERVAL"] = "1"
    default_queue = d.env["TRADEWIND__CELERY__DEFAULT_QUEUE"]
    side_queue = f"{default_queue}-side"
    flag = tmp_path / "release"
    d.write("sleeper.py", SLEEPER.format(flag=str(flag)))
    d.parse()
    assert _listed(d) == {}  # none yet: an empty list, exit 0
    d.start_api()
    worker = d.start_worker("lister", "--queues", f"default,{side_queue}", "-c", "2")
    d.start("scheduler")

    def seen() -> dict[str, Any] | None:
        row = _listed(d).get("lister@test")
        return row if row and row["state"] == "online" else None

    row = d.wait_for(seen, 60, "the scheduler to record the worker", interval=0.5)
    assert sorted(row["queues"]) == sorted([default_queue, side_queue])
    assert row["concurrency"] == 2 and row["running_tries"] == 0
    assert row["pid"] == worker.pid and row["last_heartbeat"] and row["started_at"]

    assert d.cli("dags", "trigger", "sleeper", "--run-id", "r1").returncode == 0
    busy = d.wait_for(
        lambda: (r := _listed(d).get("lister@test")) and r["running_tries"] == 1 and r,
        60,
        "the sleeping try to be counted on the worker",
        interval=0.5,
    )
    assert busy["state"] == "online"
    # Asked live as well, the worker answers itself.
    live = _listed(d, "--inspect")["lister@test"]
    assert live["state"] == "online" and live["running_tries"] == 1

    flag.touch()
    d.wait_for(
        lambda: (s := d.states("sleeper", "r1")) and s["state"] == "success",
        60,
        "the run to succeed",
        interval=0.5,
    )
    assert _listed(d)["lister@test"]["running_tries"] == 0

    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=60)
    lost = d.wait_for(
        lambda: (r := _listed(d).get("lister@test")) and r["state"] == "lost" and r,
        30,
        "the stopped worker to be shown lost",
        interval=0.5,
    )
    assert lost["running_tries"] == 0
    # Asked live, a stopped worker does not answer: still lost.
    assert _listed(d, "--inspect")["lister@test"]["state"] == "lost"
