"""DAG-level callbacks run in their own process from the run's pinned DAG version; errors in any
callback (DAG or task level) are logged and change nothing else."""

from __future__ import annotations

import os
import socket
import time

from sqlalchemy import select

from tradewind.db import engine as db_engine
from tradewind.db.models import DagRun, Job, JobState, JobType
from tradewind.runner.log_paths import callback_log_path, try_log_path
from tradewind.sdk import timezone

CALLBACK_DAG = """
    import os
    from tradewind import DAG, PythonOperator

    def record(context):
        with open({marker!r}, "a") as handle:
            ti = context["ti"]
            handle.write(f"{version} {{context['reason']}} {{context['run_id']}} {{ti.task_id}} "
                         f"{{os.getpid()}}\\n")

    def broken(context):
        raise RuntimeError("the callback itself is broken")

    def fail():
        raise ValueError("task failure")

    with DAG("{dag_id}", schedule=None, on_success_callback=[broken, record],
             on_failure_callback=record) as dag:
        first = PythonOperator(task_id="first", python_callable=lambda: 1)
        second = PythonOperator(task_id="second", python_callable={second})
        first >> second
"""


def _write(harness, marker, *, dag_id="cb", version="v1", second="lambda: 2") -> None:
    harness.write(
        f"{dag_id}.py",
        CALLBACK_DAG.format(marker=str(marker), version=version, dag_id=dag_id, second=second),
    )


def _lines(marker) -> list[list[str]]:
    if not marker.exists():
        return []
    return [line.split() for line in marker.read_text().splitlines()]


def test_success_callback_runs_in_a_child_from_the_pinned_version(harness, tmp_path) -> None:
    marker = tmp_path / "callbacks.txt"
    _write(harness, marker, version="v1")
    harness.parse()
    run_id = harness.trigger("cb")
    _write(harness, marker, version="v2")  # a new version after the run was created
    harness.parse()
    harness.run_until(lambda: len(_lines(marker)) == 1, timeout=30)
    ((version, reason, seen_run, ti_task, pid),) = _lines(marker)
    assert (version, reason, seen_run, ti_task) == ("v1", "success", run_id, "second")
    assert int(pid) != os.getpid()
    log = callback_log_path(harness.settings.log_folder, "cb", run_id).read_text()
    assert "the callback itself is broken" in log  # the first callback raised; the second still ran
    assert "on_success_callback" in log


def test_failure_callback_gets_the_failed_task(harness, tmp_path) -> None:
    marker = tmp_path / "callbacks.txt"
    _write(harness, marker, dag_id="cb_fail", second="fail")
    harness.parse()
    run_id = harness.trigger("cb_fail")
    harness.run_until(lambda: len(_lines(marker)) == 1, timeout=30)
    assert harness.run_state("cb_fail", run_id) == "failed"
    ((_version, reason, seen_run, ti_task, _pid),) = _lines(marker)
    assert (reason, seen_run, ti_task) == ("task_failure", run_id, "second")


def test_errors_in_task_callbacks_are_logged(harness) -> None:
    harness.write(
        "task_cb.py",
        """
        from tradewind import DAG, PythonOperator

        def broken(context):
            raise RuntimeError("callback exploded")

        def fail():
            raise ValueError("boom")

        with DAG("task_cb", schedule=None) as dag:
            PythonOperator(task_id="ok", python_callable=lambda: 1, on_success_callback=broken)
            PythonOperator(task_id="bad", python_callable=fail, on_failure_callback=broken)
    """,
    )
    harness.parse()
    run_id = harness.trigger("task_cb")
    harness.run_until(harness.run_finished("task_cb", run_id), timeout=30)
    assert harness.states("task_cb", run_id) == {"bad": "failed", "ok": "success"}
    for task_id in ("ok", "bad"):
        log = try_log_path(
            harness.settings.log_folder, "task_cb", run_id, task_id, -1, 1
        ).read_text()
        assert "callback exploded" in log


def _owed(harness, dag_id: str, run_id: str) -> tuple[str | None, int | None]:
    """The run's owed callback and the job running it."""
    return harness.read(
        lambda s: tuple(
            s.execute(
                select(DagRun.callback_reason, DagRun.callback_job_id).where(
                    DagRun.dag_id == dag_id, DagRun.run_id == run_id
                )
            ).one()
        )
    )


def test_a_callback_is_owed_until_it_ended(harness, tmp_path) -> None:
    marker = tmp_path / "callbacks.txt"
    _write(harness, marker)
    harness.parse()
    run_id = harness.trigger("cb")
    harness.run_until(
        lambda: len(_lines(marker)) == 1 and _owed(harness, "cb", run_id) == (None, None),
        timeout=30,
    )


def test_a_callback_owed_by_a_scheduler_that_died_runs_once_on_the_next(harness, tmp_path) -> None:
    marker = tmp_path / "callbacks.txt"
    _write(harness, marker, dag_id="cb_owed")
    harness.parse()
    run_id = harness.trigger("cb_owed")
    # The run finished and its callback ran; then pretend its scheduler died before the
    # callback ended: a job marked running whose process is gone, owning the callback.
    harness.run_until(
        lambda: len(_lines(marker)) == 1 and _owed(harness, "cb_owed", run_id) == (None, None),
        timeout=30,
    )

    def orphan(session):
        job = Job(
            job_type=JobType.SCHEDULER.value,
            state=JobState.RUNNING.value,
            hostname=socket.gethostname(),
            pid=2**22 + 1,  # above any pid_max: no such process
            latest_heartbeat=timezone.utcnow(),
            start_date=timezone.utcnow(),
        )
        session.add(job)
        session.flush()
        run = session.scalars(
            select(DagRun).where(DagRun.dag_id == "cb_owed", DagRun.run_id == run_id)
        ).one()
        run.callback_reason, run.callback_job_id = "success", job.id
        return job.id

    dead_job = db_engine.run_in_transaction(harness.engine, orphan)
    harness.run_until(
        lambda: len(_lines(marker)) == 2 and _owed(harness, "cb_owed", run_id) == (None, None),
        timeout=30,
    )
    assert [line[1] for line in _lines(marker)] == ["success", "success"]
    job_state = harness.read(lambda s: s.get(Job, dead_job).state)
    assert job_state == JobState.FAILED.value
    # Settled: a later scheduler does not run it again.
    harness.run_until(lambda: True, timeout=5)
    time.sleep(0.3)
    assert len(_lines(marker)) == 2
