"""Pools hold across workers (PostgreSQL and Redis): the scheduler decides before a message is
sent, so two workers with room for eight tries never run more of a pool's tasks at once than
it has slots."""

from __future__ import annotations

import signal

from .conftest import END_TO_END
from .history import most_at_once

pytestmark = END_TO_END

TASKS = 10

DAG = """
    import time
    from tradewind import DAG, PythonOperator

    with DAG("pooled", schedule=None) as dag:
        for i in range({n}):
            PythonOperator(task_id=f"t{{i}}", python_callable=lambda: time.sleep(1), pool="pair")
"""


def test_a_two_slot_pool_runs_two_tries_at_once_on_two_workers(celery_deployment) -> None:
    d = celery_deployment
    assert d.cli("pools", "set", "pair", "2", "two at once").returncode == 0
    d.write("pooled.py", DAG.format(n=TASKS))
    d.parse()
    d.start_api()
    workers = [d.start_worker(name, "--concurrency", "4") for name in ("w1", "w2")]
    d.start("scheduler")
    assert d.cli("dags", "trigger", "pooled", "--run-id", "r1").returncode == 0
    final = d.wait_for_run("pooled", "r1", 50)
    assert final["state"] == "success", (final, d.tails())
    rows = d.tries("r1")
    assert len(rows) == TASKS and all(row.state == "success" for row in rows), rows
    assert most_at_once(rows) == 2, rows
    assert {row.hostname for row in rows} == {"w1@test", "w2@test"}, rows
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    assert [worker.wait(timeout=30) for worker in workers] == [0, 0], d.tails()
