"""What no pass can handle is set aside, and everything else goes on being scheduled: a DAG
version that cannot be read fails its own runs, an outcome no pass can apply fails its own try;
neither makes the scheduler fail passes forever."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update

from tradewind.db import engine as db_engine
from tradewind.db.models import DagRun, DagVersion, TaskInstance
from tradewind.executors.base import Event, TaskFinished
from tradewind.runner.log_paths import try_log_path
from tradewind.runner.workload import TaskWorkload
from tradewind.scheduler import outcomes
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.scheduler.job import SchedulerJob
from tradewind.sdk import timezone
from tradewind.services.task_requests import TaskRequestHandler

from .test_pass_economy import ScriptedExecutor

GOOD = """
    from tradewind import DAG, PythonOperator
    with DAG("good", schedule=None) as dag:
        first = PythonOperator(task_id="a", python_callable=lambda: 1)
        first >> PythonOperator(task_id="b", python_callable=lambda: 2)
"""
BAD = """
    import datetime
    from tradewind import DAG, PythonOperator

    def fail():
        raise RuntimeError("try again")

    with DAG("bad", schedule=None) as dag:
        PythonOperator(
            task_id="a", python_callable=fail, retries=1, retry_delay=datetime.timedelta(0)
        ) >> PythonOperator(task_id="b", python_callable=lambda: 2)
"""


def _corrupt(harness: Any, dag_id: str) -> int:
    """Make the serialized JSON of the DAG's versions unreadable; return the latest's id."""

    def corrupt(session: Any) -> int:
        session.execute(
            update(DagVersion)
            .where(DagVersion.dag_id == dag_id)
            .values(serialized_dag='{"dag": {"tasks": [')
        )
        return session.scalar(
            select(DagVersion.id).where(DagVersion.dag_id == dag_id).order_by(DagVersion.id.desc())
        )

    return db_engine.run_in_transaction(harness.engine, corrupt)


def test_an_unreadable_dag_version_fails_its_runs_and_stalls_nothing(harness, caplog) -> None:
    caplog.set_level(logging.INFO, logger="tradewind")
    harness.write("good.py", GOOD)
    harness.write("bad.py", BAD)
    harness.parse()
    started = harness.trigger("bad")
    # One pass of a first scheduler starts that run (its task instances are created).
    SchedulerJob(
        harness.settings,
        harness.engine,
        ScriptedExecutor(run_for=60),
        request_handler=TaskRequestHandler,
    ).run(max_passes=1)
    assert harness.run_state("bad", started) == "running"
    queued = harness.trigger("bad")
    version_id = _corrupt(harness, "bad")
    good_runs = [harness.trigger("good") for _ in range(3)]

    def done() -> bool:
        return all(
            harness.run_state("bad", run_id) == "failed" for run_id in (started, queued)
        ) and all(harness.run_state("good", run_id) == "success" for run_id in good_runs)

    job = harness.run_until(done, timeout=30, scheduler__max_loop_interval=0.2)
    assert job.config.poison_attempts == 3
    reason = f"cannot read DAG version {version_id}"
    for run in harness.runs("bad"):
        assert run.state == "failed" and run.end_date is not None
        assert reason in (run.note or "")
    tis = harness.tis("bad", started)
    assert {ti.task_id: ti.state for ti in tis} == {"a": "failed", "b": "failed"}
    assert all(reason in (ti.note or "") for ti in tis)
    assert harness.tis("bad", queued) == []  # a run that never started has none
    assert caplog.text.count("set aside, marked failed") == 2
    assert "Scheduler pass failed" not in caplog.text
    # Settled: later passes do not trip over the version again.
    caplog.clear()
    harness.scheduler(scheduler__max_loop_interval=0.05).run(max_passes=5)
    assert "Cannot load DAG version" not in caplog.text
    assert "set aside" not in caplog.text


class PoisonExecutor(ScriptedExecutor):
    """Runs tries as ``ScriptedExecutor`` does, but the outcome of ``dag_id``'s tries carries a
    start date that cannot be read: applying it raises, in every pass that carries it."""

    def __init__(self, dag_id: str) -> None:
        super().__init__(run_for=0.05)
        self.dag_id = dag_id
        self.dag_of: dict[int, str] = {}

    def launch(self, workload: TaskWorkload) -> None:
        self.dag_of[workload.ti_id] = workload.dag_id
        super().launch(workload)

    def wait(self, timeout: float | None, extra_fds: list[Any]) -> tuple[list[Event], list[Any]]:
        events, readable = super().wait(timeout, extra_fds)
        for event in events:
            if isinstance(event, TaskFinished) and self.dag_of.get(event.ti_id) == self.dag_id:
                event.message["start_date"] = "the day before yesterday"
        return events, readable


def test_an_outcome_no_pass_can_apply_is_set_aside(harness, caplog) -> None:
    caplog.set_level(logging.INFO, logger="tradewind")
    harness.write("good.py", GOOD)
    harness.write("bad.py", BAD)
    harness.parse()
    bad_run = harness.trigger("bad")
    good_run = harness.trigger("good")
    settings = harness.settings.with_values(scheduler__poison_pass_attempts=2)
    job = SchedulerJob(
        settings, harness.engine, PoisonExecutor("bad"), request_handler=TaskRequestHandler
    )
    passes: list[int] = []
    original = job.run_pass

    def counted(events: list[Event], **kwargs: Any) -> Any:
        passes.append(len(events))
        return original(events, **kwargs)

    job.run_pass = counted  # type: ignore[method-assign]

    def done() -> bool:
        assert len(passes) < 50, "the scheduler keeps passing"
        return harness.run_state("bad", bad_run) == "failed" and (
            harness.run_state("good", good_run) == "success"
        )

    job.run(until=done)
    assert harness.states("good", good_run) == {"a": "success", "b": "success"}
    assert harness.states("bad", bad_run) == {"a": "failed", "b": "upstream_failed"}
    (a,) = [ti for ti in harness.tis("bad", bad_run) if ti.task_id == "a"]
    assert "could not apply what this try reported" in (a.note or "")
    log_text = try_log_path(
        harness.settings.log_folder, "bad", bad_run, "a", -1, a.try_number
    ).read_text()
    assert "could not apply what this try reported" in log_text
    # Exactly the attempts failed, then the outcome was set aside and the passes went on.
    assert caplog.text.count("Scheduler pass failed") == 2
    assert caplog.text.count("Setting aside TaskFinished") == 1


def test_a_retry_whose_dag_version_cannot_be_read_fails_no_pass(harness) -> None:
    """Applying a failed try that may retry reads its task (for the retry delay); an unreadable
    version must not make the pass raise."""
    harness.write("bad.py", BAD)
    harness.parse()
    run_id = harness.trigger("bad")
    SchedulerJob(
        harness.settings,
        harness.engine,
        ScriptedExecutor(run_for=60),
        request_handler=TaskRequestHandler,
    ).run(max_passes=1)  # starts the run: its task instances exist
    _corrupt(harness, "bad")
    now = timezone.utcnow()

    def apply(session: Any) -> set[tuple[str, str]]:
        ti = session.scalar(
            select(TaskInstance).where(TaskInstance.run_id == run_id, TaskInstance.task_id == "a")
        )
        ti.state, ti.try_number = "running", 1
        session.flush()
        message = {"state": "up_for_retry", "start_date": now.isoformat(), "xcoms": []}
        return outcomes.apply_events(
            session, DagVersionCache(), [TaskFinished(ti.id, message)], now
        )

    assert db_engine.run_in_transaction(harness.engine, apply) == {("bad", run_id)}
    (a,) = [ti for ti in harness.tis("bad", run_id) if ti.task_id == "a"]
    assert a.state == "up_for_retry" and a.next_retry_at is not None
    assert harness.read(lambda s: s.get(DagRun, harness.runs("bad")[0].id).state) != "failed"
