"""A task's ``queue=`` routes its tries: a worker started with ``--queues`` takes only the tries
of those queues, and ``default`` in ``--queues`` is ``[celery] default_queue``."""

from __future__ import annotations

from .conftest import END_TO_END

pytestmark = END_TO_END

ROUTED = """
    from tradewind import DAG, PythonOperator

    with DAG("routed", schedule=None) as dag:
        for i in range(4):
            PythonOperator(task_id=f"plain{{i}}", python_callable=lambda: "plain")
            PythonOperator(task_id=f"side{{i}}", python_callable=lambda: "side", queue={side!r})
"""


def test_tries_go_to_the_workers_of_their_queue(celery_deployment) -> None:
    d = celery_deployment
    side = f"{d.env['TRADEWIND__CELERY__DEFAULT_QUEUE']}-side"
    d.write("routed.py", ROUTED.format(side=side))
    d.parse()
    d.start_api()
    d.start_worker("plain", "-c", "2")  # the default queue only
    d.start_worker("side", "--queues", side, "-c", "2")
    d.start("scheduler")
    assert d.cli("dags", "trigger", "routed", "--run-id", "r1").returncode == 0
    final = d.wait_for_run("routed", "r1", 60)
    assert final["state"] == "success", (final, d.tails())
    hosts = {row.task_id: row.hostname for row in d.tries("r1")}
    assert hosts == {
        **{f"plain{i}": "plain@test" for i in range(4)},
        **{f"side{i}": "side@test" for i in range(4)},
    }, hosts


def test_default_in_queues_is_the_configured_default_queue(celery_deployment) -> None:
    d = celery_deployment
    side = f"{d.env['TRADEWIND__CELERY__DEFAULT_QUEUE']}-side"
    d.write("routed.py", ROUTED.format(side=side))
    d.parse()
    d.start_api()
    d.start_worker("both", "--queues", f"default,{side}", "-c", "2")
    d.start("scheduler")
    assert d.cli("dags", "trigger", "routed", "--run-id", "r1").returncode == 0
    final = d.wait_for_run("routed", "r1", 60)
    assert final["state"] == "success", (final, d.tails())
    assert {row.hostname for row in d.tries("r1")} == {"both@test"}
