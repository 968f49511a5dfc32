"""Retries (retry_delay, exponential backoff, max_retry_delay), execution_timeout, a task process
killed with SIGKILL, and dagrun_timeout."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest

from tradewind.dag_processing import dag_bag
from tradewind.db import engine as db_engine
from tradewind.runner.log_paths import try_log_path
from tradewind.scheduler import retries
from tradewind.sdk import timezone
from tradewind.services import dag_runs


def test_failed_try_is_retried_after_retry_delay(harness) -> None:
    harness.write(
        "flaky.py",
        """
        from datetime import timedelta
        from tradewind import DAG, PythonOperator

        def flaky(ti):
            if ti.try_number < 3:
                raise ConnectionError(f"try {ti.try_number} fails")
            return "ok"

        with DAG("flaky", schedule=None) as dag:
            PythonOperator(task_id="flaky", python_callable=flaky, retries=3,
                           retry_delay=timedelta(seconds=0.3))
    """,
    )
    harness.parse()
    run_id = harness.trigger("flaky")
    harness.run_until(harness.run_finished("flaky", run_id), timeout=30)
    assert harness.run_state("flaky", run_id) == "success"
    (ti,) = harness.tis("flaky", run_id)
    assert (ti.state, ti.try_number, ti.max_tries) == ("success", 3, 3)
    history = harness.history("flaky")
    assert [(row.try_number, row.state) for row in history] == [
        (1, "up_for_retry"),
        (2, "up_for_retry"),
        (3, "success"),
    ]
    for failed, following in zip(history, history[1:], strict=False):
        assert failed.next_retry_at == failed.end_date + timedelta(seconds=0.3)
        assert following.start_date >= failed.next_retry_at


def test_exponential_backoff_is_capped_by_max_retry_delay(harness) -> None:
    harness.write(
        "backoff.py",
        """
        from datetime import timedelta
        from tradewind import DAG, PythonOperator

        def always_fails():
            raise RuntimeError("nope")

        with DAG("backoff", schedule=None) as dag:
            PythonOperator(task_id="t", python_callable=always_fails, retries=2,
                           retry_delay=timedelta(seconds=0.5),
                           retry_exponential_backoff=True, max_retry_delay=timedelta(seconds=1))
    """,
    )
    harness.parse()
    run_id = harness.trigger("backoff")
    harness.run_until(harness.run_finished("backoff", run_id), timeout=30)
    assert harness.run_state("backoff", run_id) == "failed"
    history = harness.history("backoff")
    assert [(row.try_number, row.state) for row in history] == [
        (1, "up_for_retry"),
        (2, "up_for_retry"),
        (3, "failed"),
    ]
    dag, _ = dag_bag.load_dag(harness.folder, "backoff")
    task = dag.get_task("t")
    for row in history[:2]:
        delay = retries.retry_delay(
            task, dag_id="backoff", run_id=run_id, try_number=row.try_number
        )
        assert delay == timedelta(
            seconds=1
        )  # the backoff (at least 1 s, jittered) is capped at 1 s
        assert row.next_retry_at == row.end_date + delay


def test_execution_timeout_ends_the_try(harness) -> None:
    harness.write(
        "slow.py",
        """
        import time
        from datetime import timedelta
        from tradewind import DAG, PythonOperator
        with DAG("slow", schedule=None) as dag:
            PythonOperator(task_id="sleepy", python_callable=lambda: time.sleep(60),
                           execution_timeout=timedelta(seconds=0.5))
    """,
    )
    harness.parse()
    run_id = harness.trigger("slow")
    harness.run_until(harness.run_finished("slow", run_id), timeout=30)
    (ti,) = harness.tis("slow", run_id)
    assert ti.state == "failed"
    assert ti.duration < 10
    log = try_log_path(harness.settings.log_folder, "slow", run_id, "sleepy", -1, 1).read_text()
    assert "timed out" in log


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_parent_kills_a_task_that_outlives_its_timeout(harness) -> None:
    harness.write(
        "stubborn.py",
        """
        import signal, time
        from datetime import timedelta
        from tradewind import DAG, PythonOperator

        def stubborn():
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM})
            time.sleep(60)

        with DAG("stubborn", schedule=None) as dag:
            PythonOperator(task_id="stubborn", python_callable=stubborn, retries=1,
                           retry_delay=timedelta(0),
                           execution_timeout=timedelta(seconds=0.3))
    """,
    )
    harness.parse()
    run_id = harness.trigger("stubborn")
    # grace 0.2 s after the timeout, then SIGTERM (blocked), then SIGKILL 0.3 s later
    harness.run_until(
        lambda: harness.history("stubborn") != [], timeout=30, timeout_grace=0.2, kill_grace=0.3
    )
    row = harness.history("stubborn")[0]  # (stopping the scheduler then ends try 2)
    assert (row.try_number, row.state) == (1, "up_for_retry")
    log = try_log_path(
        harness.settings.log_folder, "stubborn", run_id, "stubborn", -1, 1
    ).read_text()
    assert "killed by SIGKILL" in log


def test_task_process_killed_with_sigkill_is_detected_and_retried(harness) -> None:
    harness.write(
        "victim.py",
        """
        import time
        from datetime import timedelta
        from tradewind import DAG, PythonOperator

        def work(ti):
            if ti.try_number == 1:
                time.sleep(60)
            return ti.try_number

        with DAG("victim", schedule=None) as dag:
            PythonOperator(task_id="work", python_callable=work, retries=1,
                           retry_delay=timedelta(0))
    """,
    )
    harness.parse()
    run_id = harness.trigger("victim")
    killed: list[int] = []

    def kill_running_try() -> None:
        if killed:
            return
        (ti,) = harness.tis("victim", run_id)
        if ti.state == "running" and ti.pid:
            os.kill(ti.pid, signal.SIGKILL)
            killed.append(ti.pid)

    harness.run_until(harness.run_finished("victim", run_id), timeout=30, on_pass=kill_running_try)
    assert killed
    assert harness.run_state("victim", run_id) == "success"
    assert [(row.try_number, row.state) for row in harness.history("victim")] == [
        (1, "up_for_retry"),
        (2, "success"),
    ]


def test_task_without_retries_killed_fails(harness) -> None:
    harness.write(
        "fragile.py",
        """
        import time
        from tradewind import DAG, PythonOperator
        with DAG("fragile", schedule=None) as dag:
            work = PythonOperator(task_id="work", python_callable=lambda: time.sleep(60))
            work >> PythonOperator(
                task_id="after", python_callable=lambda: None)
    """,
    )
    harness.parse()
    run_id = harness.trigger("fragile")

    def kill_running_try() -> None:
        for ti in harness.tis("fragile", run_id):
            if ti.state == "running" and ti.pid:
                os.kill(ti.pid, signal.SIGKILL)

    harness.run_until(harness.run_finished("fragile", run_id), timeout=30, on_pass=kill_running_try)
    assert harness.states("fragile", run_id) == {"work": "failed", "after": "upstream_failed"}
    assert harness.run_state("fragile", run_id) == "failed"


def test_dagrun_timeout_fails_the_run_and_skips_what_is_left(harness, tmp_path) -> None:
    marker = tmp_path / "callback.txt"
    harness.write(
        "deadline.py",
        f"""
        import time
        from datetime import timedelta
        from tradewind import DAG, PythonOperator

        def on_failure(context):
            with open({str(marker)!r}, "a") as handle:
                handle.write(f"{{context['reason']}} {{context['dag_run'].run_id}} "
                             f"{{context['ti'].task_id}}\\n")

        with DAG("deadline", schedule=None, dagrun_timeout=timedelta(seconds=1),
                 on_failure_callback=on_failure) as dag:
            quick = PythonOperator(task_id="quick", python_callable=lambda: None)
            slow = PythonOperator(task_id="slow", python_callable=lambda: time.sleep(60))
            after = PythonOperator(task_id="after", python_callable=lambda: None)
            quick >> slow >> after
    """,
    )
    harness.parse()
    run_id = harness.trigger("deadline")
    harness.run_until(lambda: marker.exists() and marker.read_text().endswith("\n"), timeout=30)
    assert harness.run_state("deadline", run_id) == "failed"
    assert harness.states("deadline", run_id) == {
        "quick": "success",
        "slow": "skipped",
        "after": "skipped",
    }
    reason, seen_run_id, ti_task_id = marker.read_text().split()
    assert (reason, seen_run_id) == ("timed_out", run_id)
    assert ti_task_id in {"quick", "slow", "after"}


def test_a_try_marked_failed_from_outside_is_stopped(harness) -> None:
    harness.write(
        "marked.py",
        """
        import time
        from tradewind import DAG, PythonOperator
        with DAG("marked", schedule=None) as dag:
            PythonOperator(task_id="long", python_callable=lambda: time.sleep(60))
    """,
    )
    harness.parse()
    run_id = harness.trigger("marked")
    marked: list[bool] = []

    def mark_when_running() -> None:
        if not marked and harness.states("marked", run_id) == {"long": "running"}:
            db_engine.run_in_transaction(
                harness.engine,
                lambda s: dag_runs.set_run_state(
                    s, "marked", run_id, "failed", now=timezone.utcnow()
                ),
            )
            marked.append(True)

    job = harness.run_until(
        lambda: bool(marked) and not harness.job.executor.running_ti_ids,
        timeout=30,
        on_pass=mark_when_running,
        scheduler__task_heartbeat_interval=0.2,
    )
    assert job.executor.running_ti_ids == set()
    (ti,) = harness.tis("marked", run_id)
    assert ti.state == "failed"
    log = try_log_path(harness.settings.log_folder, "marked", run_id, "long", -1, 1).read_text()
    assert "SIGTERM" in log
