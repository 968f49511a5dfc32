"""A worker lost mid-run, on PostgreSQL and a real broker: killed with SIGKILL, or cut off (stopped)
and back after its tries were given up. Its tries are failed once their heartbeats stop for
``[scheduler] heartbeat_timeout`` seconds and retried on the other worker; the run succeeds,
every task succeeds exactly once, and the late ends of the lost tries are refused."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .brokers import BROKER_URLS
from .conftest import END_TO_END, CeleryDeployment
from .history import RECORD_PID, TryRow, successes_per_task

pytestmark = END_TO_END

TASKS = 8
HEARTBEAT_TIMEOUT = 6
#: Seconds each try sleeps: its orphan would still run for most of them.
SLEEP = 6

DAG = (
    RECORD_PID
    + """
    import time
    from datetime import timedelta
    from tradewind import DAG, PythonOperator

    def work(ti):
        record_pid("{pids}", ti)
        time.sleep({sleep})
        return ti.try_number

    with DAG("lossy", schedule=None,
             default_args={{"retries": 1, "retry_delay": timedelta(0)}}) as dag:
        for i in range({n}):
            PythonOperator(task_id=f"t{{i}}", python_callable=work)
"""
)


def _run_on_two_workers(d: CeleryDeployment) -> tuple[subprocess.Popen[str], ...]:
    """Both workers busy with the run's tries (4 each), every try started."""
    d.env["TRADEWIND__SCHEDULER__HEARTBEAT_TIMEOUT"] = str(HEARTBEAT_TIMEOUT)
    d.write("lossy.py", DAG.format(pids=d.pid_folder, n=TASKS, sleep=SLEEP))
    d.parse()
    d.start_api()
    victim = d.start_worker("victim", "--concurrency", "4")
    survivor = d.start_worker("survivor", "--concurrency", "4")
    d.start("scheduler")
    assert d.cli("dags", "trigger", "lossy", "--run-id", "r1").returncode == 0
    d.wait_for(
        lambda: (
            len(running := [row for row in d.tries("r1") if row.state == "running"]) == TASKS
            and {row.hostname for row in running} == {"victim@test", "survivor@test"}
        ),
        30,
        "every try to run, on both workers",
        interval=0.2,
    )
    d.wait_for(
        lambda: len(list(d.pid_folder.iterdir())) == TASKS,
        30,
        "every try's process to be in its task",
        interval=0.2,
    )
    return victim, survivor


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _check_retried_elsewhere(rows: list[TryRow]) -> set[str]:
    """Every task succeeded once, on the survivor; the lost tries ended failed. The tasks
    whose first try was lost."""
    assert successes_per_task(rows) == {f"t{i}": 1 for i in range(TASKS)}, rows
    assert all(row.hostname == "survivor@test" for row in rows if row.state == "success"), rows
    lost = [row for row in rows if row.hostname == "victim@test"]
    assert len(lost) == TASKS // 2, rows
    assert all(row.try_number == 1 and row.state == "up_for_retry" for row in lost), rows
    return {row.task_id for row in lost}


@pytest.mark.parametrize("broker_url", BROKER_URLS)
def test_the_tries_of_a_killed_worker_are_retried_on_another(celery_deployment) -> None:
    """On RabbitMQ the killed worker's messages come back at once: the survivor's start of
    each is refused (the try already started), and it drops them."""
    d = celery_deployment
    victim, survivor = _run_on_two_workers(d)
    on_victim = {row.task_id for row in d.tries("r1") if row.hostname == "victim@test"}
    orphans = [
        int(path.name.rsplit("-", 1)[1])
        for path in d.pid_folder.iterdir()
        if path.name.rsplit("-", 2)[0] in on_victim
    ]
    assert len(orphans) == TASKS // 2, list(d.pid_folder.iterdir())
    os.kill(victim.pid, signal.SIGKILL)
    killed = time.monotonic()
    # Its tries do not go on beside their retries: nothing could adopt them, so each ends
    # when its supervisor's channel closes, long before its sleep would.
    d.wait_for(lambda: not any(_alive(pid) for pid in orphans), SLEEP / 2, "the orphans to end")
    final = d.wait_for_run("lossy", "r1", 45)
    assert final["state"] == "success", (final, d.tails())
    assert time.monotonic() - killed >= HEARTBEAT_TIMEOUT
    rows = d.tries("r1")
    lost = _check_retried_elsewhere(rows)
    assert {row.task_id for row in rows if row.try_number == 2} == lost, rows
    if "amqp" in d.env["TRADEWIND__CELERY__BROKER_URL"]:
        assert d.output(survivor).count("its start was refused") == len(lost), d.tails()
    survivor.send_signal(signal.SIGTERM)
    assert survivor.wait(timeout=30) == 0, d.output(survivor)[-3000:]


def test_a_cut_off_worker_back_late_has_its_ends_refused(celery_deployment) -> None:
    d = celery_deployment
    victim, survivor = _run_on_two_workers(d)
    victim.send_signal(signal.SIGSTOP)  # its tries go on, but nothing reaches the API
    try:
        final = d.wait_for_run("lossy", "r1", 45)
    finally:
        victim.send_signal(signal.SIGCONT)
    assert final["state"] == "success", (final, d.tails())
    lost = _check_retried_elsewhere(d.tries("r1"))
    # Back, the worker sends the ends of the tries it still holds: each is refused, and
    # nothing changes.
    d.wait_for(
        lambda: d.output(victim).count("The end of try was refused") == len(lost),
        30,
        "the late ends to be refused",
    )
    assert successes_per_task(d.tries("r1")) == {f"t{i}": 1 for i in range(TASKS)}
    assert d.states("lossy", "r1")["state"] == "success"
    for worker in (victim, survivor):
        worker.send_signal(signal.SIGTERM)
    assert [worker.wait(timeout=30) for worker in (victim, survivor)] == [0, 0], d.tails()
