"""A try that holds its message longer than RabbitMQ's ``consumer_timeout`` (PostgreSQL and a
RabbitMQ node of the test's own, whose timeout is 3 s instead of 30 min): the broker closes
the worker's channel and gives the message back, the worker reconnects (its tries go on), the
copy delivered again is refused by the execution API, and the try ends once, in success."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import END_TO_END
from .private_rabbitmq import rabbitmq_node

pytestmark = END_TO_END

DAG = """
    import time
    from tradewind import DAG, PythonOperator

    with DAG("lengthy", schedule=None) as dag:
        long = PythonOperator(task_id="long", python_callable=lambda: time.sleep(10))
        long >> PythonOperator(task_id="after", python_callable=lambda: None)
"""


@pytest.fixture
def broker_url(tmp_path: Path) -> Iterator[str]:
    with rabbitmq_node(tmp_path / "rabbitmq", consumer_timeout_ms=3000) as url:
        yield url


def test_a_try_longer_than_the_consumer_timeout_ends_once_in_success(celery_deployment) -> None:
    d = celery_deployment
    d.write("lengthy.py", DAG)
    d.parse()
    d.start_api()
    worker = d.start_worker("w1", "--concurrency", "2")
    d.start("scheduler")
    assert d.cli("dags", "trigger", "lengthy", "--run-id", "r1").returncode == 0
    final = d.wait_for_run("lengthy", "r1", 45)
    assert final["state"] == "success", (final, d.tails())
    rows = [(row.task_id, row.try_number, row.state) for row in d.tries("r1")]
    assert rows == [("after", 1, "success"), ("long", 1, "success")], rows
    output = d.output(worker)
    assert "delivery acknowledgement on channel 1 timed out" in output, output[-3000:]
    assert "its start was refused" in output, output[-3000:]
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, d.output(worker)[-3000:]
