"""The scheduler runs a pass only for what can change a decision, and a pass writes in few
statements: started tries ride with the next pass, the executor's own wake-ups run none, a
freed slot runs one when work waits for it; history and XComs are upserted in one go."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from sqlalchemy import event, select

from tests.executors.fakes import ScriptedExecutor
from tradewind.db import engine as db_engine
from tradewind.db.models import TaskInstance, TaskInstanceHistory, XCom
from tradewind.executors.base import Event
from tradewind.scheduler import job as job_module
from tradewind.scheduler import outcomes, ti_rows
from tradewind.scheduler.job import SchedulerJob
from tradewind.sdk import timezone
from tradewind.services.task_requests import TaskRequestHandler

CHAIN = """
    from tradewind import DAG, PythonOperator
    with DAG("chain", schedule=None) as dag:
        a = PythonOperator(task_id="a", python_callable=lambda: 1)
        a >> PythonOperator(task_id="b", python_callable=lambda: 2)
"""


def _count_passes(job: SchedulerJob) -> list[list[str]]:
    seen: list[list[str]] = []
    original = job.run_pass

    def counted(events: list[Event], **kwargs: Any) -> Any:
        seen.append([type(event).__name__ for event in events])
        return original(events, **kwargs)

    job.run_pass = counted  # type: ignore[method-assign]
    return seen


def test_a_pass_runs_for_each_finished_try_and_none_for_starts_or_executor_wakeups(
    harness, monkeypatch
) -> None:
    monkeypatch.setattr(job_module, "START_RECORD_DELAY", 30.0)
    harness.write("chain.py", CHAIN)
    harness.parse()
    run_id = harness.trigger("chain")
    executor = ScriptedExecutor(run_for=0.2)
    job = SchedulerJob(
        harness.settings, harness.engine, executor, request_handler=TaskRequestHandler
    )
    passes = _count_passes(job)
    job.run(until=harness.run_finished("chain", run_id))
    assert executor.launched == ["a", "b"]
    # The first (full) pass queues a; then one pass per finished try, each carrying its start.
    assert passes == [[], ["TaskStarted", "TaskFinished"], ["TaskStarted", "TaskFinished"]]
    assert harness.states("chain", run_id) == {"a": "success", "b": "success"}
    a = next(ti for ti in harness.tis("chain", run_id) if ti.task_id == "a")
    assert a.hostname == "here" and a.start_date is not None


def test_a_started_try_is_recorded_running_without_a_pass(harness, monkeypatch) -> None:
    monkeypatch.setattr(job_module, "START_RECORD_DELAY", 0.05)
    harness.write("chain.py", CHAIN)
    harness.parse()
    run_id = harness.trigger("chain")
    executor = ScriptedExecutor(run_for=60)
    job = SchedulerJob(
        harness.settings, harness.engine, executor, request_handler=TaskRequestHandler
    )
    passes = _count_passes(job)
    deadline = time.monotonic() + 20

    def a_running() -> bool:
        assert time.monotonic() < deadline
        return harness.states("chain", run_id).get("a") == "running"

    original_wait = executor.wait
    recorded: list[Any] = []  # the row while the try runs (stopping the job then ends it)

    def wait(timeout: float | None, extra: list[Any]) -> tuple[list[Event], list[Any]]:
        if a_running():
            recorded.extend(ti for ti in harness.tis("chain", run_id) if ti.task_id == "a")
            job.stop()
        return original_wait(timeout, extra)

    executor.wait = wait  # type: ignore[method-assign]
    job.run()
    assert passes == [[]]  # only the first pass; "running" came from the start alone
    a = recorded[0]
    assert a.pid == 4242 and a.hostname == "here"


def test_history_and_xcoms_are_upserted(harness, session) -> None:
    harness.write("chain.py", CHAIN)
    harness.parse()
    run_id = harness.trigger("chain")
    job = SchedulerJob(
        harness.settings,
        harness.engine,
        ScriptedExecutor(run_for=0),
        request_handler=TaskRequestHandler,
    )
    job.run(until=harness.run_finished("chain", run_id))

    def history(s: Any) -> list[tuple[str, int, str | None]]:
        return [
            (row.task_id, row.try_number, row.state)
            for row in s.scalars(
                select(TaskInstanceHistory)
                .where(TaskInstanceHistory.run_id == run_id)
                .order_by(TaskInstanceHistory.task_id)
            )
        ]

    assert harness.read(history) == [("a", 1, "success"), ("b", 1, "success")]

    def rewrite(s: Any) -> None:
        tis = list(s.scalars(select(TaskInstance).where(TaskInstance.run_id == run_id)))
        for ti in tis:
            ti.state = "failed"
        outcomes.record_histories(s, tis)  # the same tries again: updated, not duplicated
        outcomes.write_xcoms(
            s,
            [
                {
                    "dag_id": "chain",
                    "run_id": run_id,
                    "task_id": "a",
                    "map_index": -1,
                    "key": "return_value",
                    "value": '"w"',
                    "timestamp": timezone.utcnow(),
                }
            ],
        )

    db_engine.run_in_transaction(harness.engine, rewrite)
    assert harness.read(history) == [("a", 1, "failed"), ("b", 1, "failed")]
    values = harness.read(
        lambda s: sorted(
            (x.task_id, x.value) for x in s.scalars(select(XCom).where(XCom.run_id == run_id))
        )
    )
    assert values == [("a", '"w"'), ("b", '"v"')]


def test_rows_write_back_what_was_assigned_and_refresh_loaded_objects(harness) -> None:
    harness.write("chain.py", CHAIN)
    harness.parse()
    run_id = harness.trigger("chain")
    SchedulerJob(
        harness.settings,
        harness.engine,
        ScriptedExecutor(run_for=60),
        request_handler=TaskRequestHandler,
    ).run(max_passes=1)

    def change(s: Any) -> tuple[str | None, str | None]:
        orm = s.scalar(
            select(TaskInstance).where(TaskInstance.run_id == run_id, TaskInstance.task_id == "b")
        )
        (row,) = ti_rows.load(s, ti_rows.EVALUATE, TaskInstance.__table__.c.id == orm.id)
        before = orm.state
        row.state = "skipped"
        row.end_date = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
        assert ti_rows.write_changes(s, [row]) == {orm.id}
        return before, orm.state  # the ORM object was expired: it reads the new state

    assert db_engine.run_in_transaction(harness.engine, change) == (None, "skipped")
    b = next(ti for ti in harness.tis("chain", run_id) if ti.task_id == "b")
    assert b.end_date == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def test_a_try_that_started_and_ended_since_the_last_pass_is_written_once(harness) -> None:
    harness.write("chain.py", CHAIN)
    harness.parse()
    run_id = harness.trigger("chain")
    executor = ScriptedExecutor(run_for=0)
    job = SchedulerJob(
        harness.settings, harness.engine, executor, request_handler=TaskRequestHandler
    )
    passes = _count_passes(job)
    statements: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(harness.engine, "before_cursor_execute", note)
    try:
        job.run(until=harness.run_finished("chain", run_id))
    finally:
        event.remove(harness.engine, "before_cursor_execute", note)
    assert ["TaskStarted", "TaskFinished"] in passes
    # The start's own statement (``transitions.start_tries``) never ran: each start was
    # written by the UPDATE that recorded the try's end.
    assert not [s for s in statements if "coalesce(task_instance.start_date" in s]
    for ti in harness.tis("chain", run_id):  # (an ended try keeps no pid)
        assert (ti.state, ti.pid, ti.hostname) == ("success", None, "here")
        assert ti.start_date is not None and ti.last_heartbeat_at is not None
    assert {(h.task_id, h.hostname) for h in harness.history("chain")} == {
        ("a", "here"),
        ("b", "here"),
    }
