"""The heartbeat stops a try whose row was changed from outside while it ran, but not one that
already reported its outcome (its row says success because the scheduler wrote it)."""

from __future__ import annotations

from sqlalchemy import update

from tradewind.db import engine as db_engine
from tradewind.db.models import TaskInstance
from tradewind.scheduler import job_rows
from tradewind.sdk import timezone

DAG_FILE = """
from tradewind import DAG, EmptyOperator

with DAG("beaten", schedule=None):
    EmptyOperator(task_id="only")
"""


class RecordingExecutor:
    """What ``heartbeat`` asks of an executor, recording the tries it is told to stop."""

    heartbeats_remotely = False  # its tries are beaten for by the scheduler

    def __init__(self, running: set[int], reported: set[int]) -> None:
        self.running_ti_ids = running
        self.reported_ti_ids = reported
        self.terminated: list[int] = []
        self.released: list[int] = []

    def terminate(self, ti_id: int) -> None:
        self.terminated.append(ti_id)

    def release(self, ti_id: int) -> None:
        self.released.append(ti_id)


def _succeeded_ti(harness) -> tuple[int, int]:
    """A task instance whose row says success, and the id of the scheduler job that ran."""
    harness.write("beaten.py", DAG_FILE)
    harness.parse()
    run_id = harness.trigger("beaten")
    job = harness.run_until(lambda: bool(harness.tis("beaten", run_id)), timeout=30)
    (ti,) = harness.tis("beaten", run_id)
    db_engine.run_in_transaction(
        harness.engine,
        lambda s: s.execute(
            update(TaskInstance).where(TaskInstance.id == ti.id).values(state="success")
        ),
    )
    assert job.job_id is not None
    return ti.id, job.job_id


def test_a_try_that_reported_its_outcome_is_not_stopped(harness) -> None:
    ti_id, job_id = _succeeded_ti(harness)
    executor = RecordingExecutor({ti_id}, {ti_id})
    job_rows.heartbeat(harness.engine, executor, job_id, timezone.utcnow)
    assert executor.terminated == []


def test_a_try_whose_row_changed_from_outside_is_stopped(harness) -> None:
    ti_id, job_id = _succeeded_ti(harness)
    executor = RecordingExecutor({ti_id}, set())
    job_rows.heartbeat(harness.engine, executor, job_id, timezone.utcnow)
    assert executor.terminated == [ti_id]
