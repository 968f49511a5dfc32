"""What a scheduler does with the task instances of a scheduler that died: queued ones run again,
running ones whose try left an outcome file get that outcome (and do not run again), the rest
are retried or failed per their retries."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from sqlalchemy import select

from tradewind.db import engine as db_engine
from tradewind.db.models import Job, JobState, JobType, TaskInstance
from tradewind.runner import xcom_codec
from tradewind.runner.log_paths import try_log_path
from tradewind.scheduler import outcomes, run_lifecycle
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.sdk import timezone


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _job(session, pid: int) -> int:
    job = Job(
        job_type=JobType.SCHEDULER.value,
        state=JobState.RUNNING.value,
        hostname=socket.gethostname(),
        pid=pid,
        latest_heartbeat=timezone.utcnow(),
    )
    session.add(job)
    session.flush()
    return job.id


def test_a_new_scheduler_repairs_what_a_dead_one_left(harness) -> None:
    harness.write(
        "rec.py",
        """
        from datetime import timedelta
        from tradewind import DAG, PythonOperator
        with DAG("rec", schedule=None) as dag:
            # must not run again
            PythonOperator(task_id="finished_unrecorded", python_callable=lambda: 1 / 0)
            PythonOperator(task_id="lost_with_retry", python_callable=lambda: "ok", retries=1,
                           retry_delay=timedelta(0))
            PythonOperator(task_id="queued", python_callable=lambda: "ok")
            PythonOperator(task_id="lost_without_retry", python_callable=lambda: "ok")
            PythonOperator(task_id="lost_by_reused_pid", python_callable=lambda: "ok", retries=1,
                           retry_delay=timedelta(0))
    """,
    )
    harness.parse()
    run_id = harness.trigger("rec")
    outcome_folder = harness.settings.home / "outcomes"

    def crash_state(session) -> None:
        cache = DagVersionCache()
        run_lifecycle.start_queued_runs(session, cache, timezone.utcnow())
        dead = _job(session, _dead_pid())
        reused = _job(
            session, os.getpid()
        )  # a restarted container may give the new scheduler the old pid
        tis = {
            ti.task_id: ti
            for ti in session.scalars(select(TaskInstance).where(TaskInstance.run_id == run_id))
        }
        for task_id, ti in tis.items():
            ti.try_number, ti.max_tries = (
                1,
                1 if "with_retry" in task_id or "reused" in task_id else 0,
            )
            ti.queued_by_job_id = reused if task_id == "lost_by_reused_pid" else dead
            ti.state = "queued" if task_id == "queued" else "running"
            ti.start_date = timezone.utcnow()
        outcome_folder.mkdir(parents=True, exist_ok=True)
        now = timezone.utcnow().isoformat()
        message = {
            "op": "done",
            "ti_id": tis["finished_unrecorded"].id,
            "try_number": 1,
            "state": "success",
            "start_date": now,
            "end_date": now,
            "xcoms": [["return_value", xcom_codec.encode(42)]],
        }
        outcomes.outcome_path(outcome_folder, tis["finished_unrecorded"].id, 1).write_text(
            json.dumps(message)
        )
        outcomes.outcome_path(outcome_folder, 999_999, 1).write_text(
            "{}"
        )  # stale: no such try running

    db_engine.run_in_transaction(harness.engine, crash_state)
    harness.run_until(harness.run_finished("rec", run_id), timeout=30)

    assert harness.states("rec", run_id) == {
        "finished_unrecorded": "success",
        "lost_by_reused_pid": "success",
        "lost_with_retry": "success",
        "lost_without_retry": "failed",
        "queued": "success",
    }
    tries = {(row.task_id, row.try_number): row.state for row in harness.history("rec")}
    assert tries == {
        ("finished_unrecorded", 1): "success",
        ("lost_by_reused_pid", 1): "up_for_retry",
        ("lost_by_reused_pid", 2): "success",
        ("lost_with_retry", 1): "up_for_retry",
        ("lost_with_retry", 2): "success",
        ("lost_without_retry", 1): "failed",
        ("queued", 1): "success",
    }
    folder = harness.settings.log_folder
    assert not try_log_path(
        folder, "rec", run_id, "finished_unrecorded", -1, 1
    ).exists()  # it was not run again
    assert (
        "its scheduler or worker stopped"
        in try_log_path(folder, "rec", run_id, "lost_without_retry", -1, 1).read_text()
    )
    assert list(outcome_folder.iterdir()) == []
    jobs = harness.read(lambda s: [job.state for job in s.scalars(select(Job).order_by(Job.id))])
    assert jobs == ["failed", "failed", "success"]


def test_a_failing_pass_is_logged_and_tried_again(harness, caplog) -> None:
    harness.write(
        "steady.py",
        """
        from tradewind import DAG, PythonOperator
        with DAG("steady", schedule=None) as dag:
            a = PythonOperator(task_id="a", python_callable=lambda: 1)
            a >> PythonOperator(task_id="b", python_callable=lambda: 2)
    """,
    )
    harness.parse()
    run_id = harness.trigger("steady")
    calls = {"n": 0}

    def flaky_clock():
        calls["n"] += 1
        if calls["n"] in (3, 4):
            raise RuntimeError("the clock (standing in for the database) is away")
        return timezone.utcnow()

    harness.run_until(harness.run_finished("steady", run_id), timeout=30, clock=flaky_clock)
    assert harness.run_state("steady", run_id) == "success"
    assert "Scheduler pass failed (2 in a row); trying again" in caplog.text
