"""One scheduler with the celery executor, the API server and two ``tradewind celery worker``
processes (no database, no DAG folder) on PostgreSQL and each broker: a fan-out DAG runs to
success on both workers, with XComs passed between tries of different workers (200 tasks on
Redis, a smaller fan-out on RabbitMQ)."""

from __future__ import annotations

import signal

import pytest
from sqlalchemy import select

from tradewind.db.models import TaskInstance

from .brokers import RABBITMQ_URL, REDIS_URL

pytestmark = [pytest.mark.slow]

FAN = """
    from tradewind import DAG, PythonOperator

    def push(i):
        return i * 2

    def total(ti):
        values = ti.xcom_pull(task_ids=[f"t{{i}}" for i in range({n})])
        assert sorted(values) == [i * 2 for i in range({n})], values
        return sum(values)

    with DAG("fan", schedule=None) as dag:
        join = PythonOperator(task_id="join", python_callable=total)
        for i in range({n}):
            PythonOperator(task_id=f"t{{i}}", python_callable=push, op_args=[i]) >> join
"""


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
@pytest.mark.parametrize(
    ("broker_url", "n"),
    [pytest.param(REDIS_URL, 200, id="redis"), pytest.param(RABBITMQ_URL, 40, id="rabbitmq")],
)
def test_a_fan_out_runs_on_two_workers_without_database(celery_deployment, n: int) -> None:
    d = celery_deployment
    d.write("fan.py", FAN.format(n=n))
    d.parse()
    d.start_api()
    workers = [d.start_worker("w1", "--concurrency", "4"), d.start_worker("w2", "-c", "4")]
    d.start("scheduler")
    assert d.cli("dags", "trigger", "fan", "--run-id", "r1").returncode == 0
    try:
        final = d.wait_for(
            lambda: (s := d.states("fan", "r1")) and s["state"] in ("success", "failed") and s,
            240,
            "the run to end",
            interval=1,
        )
    except AssertionError:
        states = d.states("fan", "r1") or {"tasks": {}}
        counts: dict[str, int] = {}
        for task in states["tasks"].values():
            counts[task["state"]] = counts.get(task["state"], 0) + 1
        tails = [(p.args[1:3], d.output(p)[-3000:]) for p in d.processes]
        raise AssertionError(f"{counts} {tails}") from None
    rows = d.read(
        lambda s: [
            (row.task_id, row.state, row.try_number, row.hostname)
            for row in s.scalars(select(TaskInstance).where(TaskInstance.run_id == "r1"))
        ]
    )
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=60)
    logs = [d.output(worker) for worker in workers]
    assert final["state"] == "success", (final, rows, logs[0][-3000:])
    assert all(state == "success" and tries == 1 for _t, state, tries, _h in rows), rows
    assert len(rows) == n + 1
    # Both workers ran tries: each is the recorded host of some, and logs those it finished.
    assert {host for *_rest, host in rows} == {"w1@test", "w2@test"}, rows
    assert all("'finished: success'" in output for output in logs), logs
    assert all(worker.returncode == 0 for worker in workers), logs
