"""What recovery decides for the instances of a dead scheduler when tries may have outlived it:
live tries of this host are adopted (a queued one that started before its start was recorded
too), a try of another host is left to the heartbeat timeout, a queued try that opened its log
used its try, and a live try whose instance moved on is stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import select

from tradewind.db import engine as db_engine
from tradewind.db.models import Job, JobState, JobType, TaskInstance
from tradewind.executors import launchers
from tradewind.executors.local import LocalExecutor
from tradewind.runner import beacons
from tradewind.runner.log_paths import try_log_path
from tradewind.scheduler import recovery, run_lifecycle
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.sdk import timezone

pytestmark = pytest.mark.skipif(
    not (launchers.supported() and beacons.supported()),
    reason="adoption needs Linux pidfds and abstract Unix sockets",
)

#: A process standing in for a try: it holds the try's beacon until it is stopped.
HOLDER = textwrap.dedent("""
    import sys, time
    from tradewind.runner import beacons
    held = beacons.hold(sys.argv[1], int(sys.argv[2]), 1)
    print("ready" if held is not None else "no beacon", flush=True)
    time.sleep(60)
""")

TASKS = (
    "running_here",
    "queued_but_started",
    "on_another_host",
    "started_and_died",
    "never_started",
    "moved_on",
)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _job(session, pid: int, state: JobState = JobState.RUNNING) -> int:
    job = Job(
        job_type=JobType.SCHEDULER.value,
        state=state.value,
        hostname=socket.gethostname(),
        pid=pid,
        latest_heartbeat=timezone.utcnow(),
    )
    session.add(job)
    session.flush()
    return job.id


def _hold(home_key: str, ti_id: int) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, home_key, str(ti_id)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    return holder


def test_recovery_adopts_what_runs_here_and_settles_the_rest(harness) -> None:
    harness.write(
        "rec.py",
        f"""
        from tradewind import DAG, PythonOperator
        with DAG("adopt", schedule=None) as dag:
            for name in {TASKS!r}:
                PythonOperator(task_id=name, python_callable=lambda: "ok")
    """,
    )
    harness.parse()
    run_id = harness.trigger("adopt")
    home_key = beacons.home_key(harness.settings.home)

    def ids(session) -> dict[str, int]:
        run_lifecycle.start_queued_runs(session, DagVersionCache(), timezone.utcnow())
        return {
            ti.task_id: ti.id
            for ti in session.scalars(select(TaskInstance).where(TaskInstance.run_id == run_id))
        }

    tis = db_engine.run_in_transaction(harness.engine, ids)
    holders = {
        name: _hold(home_key, tis[name])
        for name in ("running_here", "queued_but_started", "on_another_host", "moved_on")
    }
    executor = LocalExecutor(parallelism=4, kill_grace=0.5)
    try:

        def crash_state(session) -> int:
            dead = _job(session, _dead_pid())
            rows = {
                ti.task_id: ti
                for ti in session.scalars(select(TaskInstance).where(TaskInstance.run_id == run_id))
            }
            for name, ti in rows.items():
                ti.try_number, ti.max_tries, ti.queued_by_job_id = 1, 0, dead
                ti.state = (
                    "queued"
                    if name in ("queued_but_started", "started_and_died", "never_started")
                    else "running"
                )
                if ti.state == "running":
                    ti.hostname, ti.start_date = socket.gethostname(), timezone.utcnow()
                    ti.pid = holders[name].pid if name in holders else None
            rows["on_another_host"].hostname = "another-host"
            rows["moved_on"].state = "success"  # marked by hand while no scheduler ran
            path = try_log_path(
                harness.settings.log_folder, "adopt", run_id, "started_and_died", -1, 1
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("the try began\n")  # a try opens its log first thing
            return _job(session, os.getpid())

        me = db_engine.run_in_transaction(harness.engine, crash_state)
        executor.start(lambda message: {}, home=harness.settings.home)

        def recover(session) -> recovery.RecoveryResult:
            return recovery.reset_orphans(
                session,
                DagVersionCache(),
                my_job_id=me,
                now=timezone.utcnow(),
                timeout=30.0,
                executor=executor,
                log_folder=harness.settings.log_folder,
                outcome_folder=harness.settings.home / "outcomes",
            )

        result = db_engine.run_in_transaction(harness.engine, recover)
        assert result.adopted == 2
        assert executor.running_ti_ids == {tis["running_here"], tis["queued_but_started"]}
        rows = {ti.task_id: ti for ti in harness.tis("adopt", run_id)}
        assert {name: (rows[name].state, rows[name].try_number) for name in TASKS} == {
            "running_here": ("running", 1),
            "queued_but_started": ("running", 1),
            "on_another_host": ("failed", 1),  # not ours to see: its job is dead, as before
            "started_and_died": ("failed", 1),  # it used its try
            "never_started": ("scheduled", 0),  # it did not
            "moved_on": ("success", 1),
        }
        assert (
            rows["running_here"].queued_by_job_id == me
            and rows["queued_but_started"].queued_by_job_id == me
        )
        assert rows["queued_but_started"].pid == holders["queued_but_started"].pid
        log = try_log_path(
            harness.settings.log_folder, "adopt", run_id, "running_here", -1, 1
        ).read_text()
        assert f"scheduler job {me}" in log and "took it over" in log
        # The try whose instance moved on is stopped; those adopted go on.
        assert holders["moved_on"].wait(timeout=10) == -signal.SIGTERM
        assert all(holders[name].poll() is None for name in ("running_here", "queued_but_started"))
        # Adopted tries end like any: killed, each is reported as having died without an outcome.
        holders["running_here"].kill()
        deadline = time.monotonic() + 10
        events = []
        while not events:
            assert time.monotonic() < deadline
            events, _ = executor.wait(0.1, [])
        assert [(event.ti_id, type(event).__name__) for event in events] == [
            (tis["running_here"], "TaskDied")
        ]
    finally:
        executor.end(grace=0.5)
        for holder in holders.values():
            if holder.poll() is None:
                holder.kill()
            holder.wait()
            assert holder.stdout is not None
            holder.stdout.close()
    jobs = harness.read(lambda s: [job.state for job in s.scalars(select(Job).order_by(Job.id))])
    assert jobs == [JobState.FAILED.value, JobState.RUNNING.value]
