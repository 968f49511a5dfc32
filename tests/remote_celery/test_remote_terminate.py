"""A running remote try marked failed from outside (PostgreSQL and Redis) is stopped on its
worker within a few heartbeat intervals, and the scheduler's slot it held is free again: with
``parallelism`` 1, the task waiting for it runs."""

from __future__ import annotations

import signal
import time

from executors.process_helpers import alive

from .conftest import END_TO_END
from .history import RECORD_PID

pytestmark = END_TO_END

HEARTBEAT_INTERVAL = 1.0

DAG = (
    RECORD_PID
    + """
    import time
    from tradewind import DAG, PythonOperator

    def long(ti):
        record_pid("{pids}", ti)
        time.sleep(120)

    with DAG("stoppable", schedule=None) as dag:
        first = PythonOperator(task_id="long", python_callable=long)
        first >> PythonOperator(task_id="after", python_callable=lambda: None,
                                trigger_rule="all_done")
"""
)


def test_a_remote_try_marked_failed_stops_on_its_worker_and_frees_its_slot(
    celery_deployment,
) -> None:
    d = celery_deployment
    assert float(d.env["TRADEWIND__SCHEDULER__TASK_HEARTBEAT_INTERVAL"]) == HEARTBEAT_INTERVAL
    d.env["TRADEWIND__CORE__PARALLELISM"] = "1"
    d.write("stoppable.py", DAG.format(pids=d.pid_folder))
    d.parse()
    d.start_api()
    worker = d.start_worker("w1", "--concurrency", "2")
    d.start("scheduler")
    assert d.cli("dags", "trigger", "stoppable", "--run-id", "r1").returncode == 0
    (pid,) = d.wait_for(d.try_pids, 30, "the try to run", interval=0.2)
    marked = d.cli("tasks", "mark-failed", "stoppable", "r1", "long")
    assert marked.returncode == 0, marked.stderr
    since = time.monotonic()
    d.wait_for(lambda: not alive(pid), 10, "the try's process to end", interval=0.1)
    assert time.monotonic() - since < 4 * HEARTBEAT_INTERVAL + 2, d.output(worker)[-3000:]
    assert "no longer runs here" in d.output(worker)

    final = d.wait_for_run("stoppable", "r1", 30)
    rows = [(row.task_id, row.try_number, row.state) for row in d.tries("r1")]
    assert rows == [("after", 1, "success"), ("long", 1, "failed")], (rows, final, d.tails())
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, d.output(worker)[-3000:]
