"""SIGTERM to a worker drains it (PostgreSQL and Redis): it takes no new message, lets its
running tries finish for ``[celery] worker_shutdown_grace`` seconds, terminates those still
running then (they end up_for_retry and another worker retries them) and exits 0."""

from __future__ import annotations

import signal
import time

from .conftest import END_TO_END
from .history import RECORD_PID

pytestmark = END_TO_END

GRACE = 6

DAG = (
    RECORD_PID
    + """
    import time
    from datetime import timedelta
    from tradewind import DAG, PythonOperator

    def short(ti):
        record_pid("{pids}", ti)
        time.sleep(3)

    def long(ti):
        record_pid("{pids}", ti)
        if ti.try_number == 1:
            time.sleep(120)

    with DAG("drain", schedule=None) as dag:
        first = PythonOperator(task_id="short", python_callable=short)
        first >> PythonOperator(task_id="after", python_callable=lambda: None)
        PythonOperator(task_id="long", python_callable=long, retries=1,
                       retry_delay=timedelta(0))
"""
)


def test_sigterm_drains_a_worker_and_its_long_try_is_retried_elsewhere(
    celery_deployment,
) -> None:
    d = celery_deployment
    d.write("drain.py", DAG.format(pids=d.pid_folder))
    d.parse()
    d.start_api()
    leaving = d.start_worker(
        "leaving", "--concurrency", "3", TRADEWIND__CELERY__WORKER_SHUTDOWN_GRACE=str(GRACE)
    )
    d.start("scheduler")
    assert d.cli("dags", "trigger", "drain", "--run-id", "r1").returncode == 0
    d.wait_for(
        lambda: (
            {row.task_id for row in d.tries("r1") if row.state == "running"} == {"short", "long"}
        ),
        30,
        "short and long to run",
        interval=0.2,
    )
    leaving.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    # ``short`` ends within the grace and ``after`` is queued then: a free slot of the
    # leaving worker, which must not take it.
    assert leaving.wait(timeout=GRACE + 20) == 0, d.tails()
    took = time.monotonic() - stopped
    assert GRACE - 1 <= took <= GRACE + 10, (took, d.tails())
    # The terminated try's end was sent before the worker exited; the scheduler applies it.
    by_task = d.wait_for(
        lambda: (
            (tries := {row.task_id: row for row in d.tries("r1") if row.try_number == 1})
            and tries["long"].state != "running"
            and tries
        ),
        10,
        "the scheduler to apply the end of long",
    )
    assert by_task["short"].state == "success", by_task
    assert by_task["after"].state == "queued" and by_task["after"].hostname is None, by_task
    assert by_task["long"].state == "up_for_retry", by_task

    staying = d.start_worker("staying", "--concurrency", "3")
    final = d.wait_for_run("drain", "r1", 40)
    assert final["state"] == "success", (final, d.tails())
    rows = [(r.task_id, r.try_number, r.state, r.hostname) for r in d.tries("r1")]
    assert rows == [
        ("after", 1, "success", "staying@test"),
        ("long", 1, "up_for_retry", "leaving@test"),
        ("long", 2, "success", "staying@test"),
        ("short", 1, "success", "leaving@test"),
    ], rows
    staying.send_signal(signal.SIGTERM)
    assert staying.wait(timeout=30) == 0, d.output(staying)[-3000:]
