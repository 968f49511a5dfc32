"""A DAG version that cannot be read fails no pass: every reader guards against it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from tradewind.db import engine as db_engine
from tradewind.db.models import DagRun, DagVersion, TaskInstance
from tradewind.executors.base import TaskFinished
from tradewind.scheduler import outcomes
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.scheduler.job import SchedulerJob
from tradewind.sdk import timezone
from tradewind.services.task_requests import TaskRequestHandler

from .test_pass_economy import ScriptedExecutor

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
