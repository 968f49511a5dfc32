"""A task's ``queue=`` routes its tries: a worker started with ``--queues`` takes only the tries
of those queues, and ``default`` in ``--queues`` is ``[celery] default_queue``."""

from __future__ import annotations

from .conftest import END_TO_END, CeleryDeployment

pytestmark = END_TO_END

ROUTED = """
    from tradewind import DAG, PythonOperator

    with DAG("routed", schedule=None) as dag:
        for i in range(4):
            PythonOperator(task_id=f"plain{{i}}", python_callable=lambda: "plain")
            PythonOperator(task_id=f"side{{i}}", python_callable=lambda: "side", queue={side!r})
"""


def _run(d: CeleryDeployment, workers: dict[str, list[str]]) -> None:
    """Start ``workers`` (name: arguments, ``{side}`` in them is the side queue), run the DAG."""
    side = f"{d.env['TRADEWIND__CELERY__DEFAULT_QUEUE']}-side"
    d.write("routed.py", ROUTED.format(side=side))
    d.parse()
    d.start_api()
    for name, args in workers.items():
        d.start_worker(name, *(arg.format(side=side) for arg in args), "-c", "2")
    d.start("scheduler")
    assert d.cli("dags", "trigger", "routed", "--run-id", "r1").returncode == 0
    final = d.wait_for_run("routed", "r1", 60)
    assert final["state"] == "success", (final, d.tails())


def test_tries_go_to_the_workers_of_their_queue(celery_deployment) -> None:
    d = celery_deployment
    _run(d, {"plain": [], "side": ["--queues", "{side}"]})  # plain: the default queue only
    hosts = {row.task_id: row.hostname for row in d.tries("r1")}
    assert hosts == {
        **{f"plain{i}": "plain@test" for i in range(4)},
        **{f"side{i}": "side@test" for i in range(4)},
    }, hosts


def test_default_in_queues_is_the_configured_default_queue(celery_deployment) -> None:
    d = celery_deployment
    _run(d, {"both": ["--queues", "default,{side}"]})
    assert {row.hostname for row in d.tries("r1")} == {"both@test"}
