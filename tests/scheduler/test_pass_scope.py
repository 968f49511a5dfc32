"""A pass that is not full decides the runs its events touched (and, for ``depends_on_past``,
the run right after each), not every running run: its cost follows its events, not the
number of active runs."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from tests.executors.fakes import ScriptedExecutor
from tradewind.runner.workload import TaskWorkload
from tradewind.scheduler.job import SchedulerJob
from tradewind.scheduler.scheduler_pass import PassResult
from tradewind.services.task_requests import TaskRequestHandler

CHAIN = """
    from tradewind import DAG, PythonOperator
    with DAG("chain", schedule=None, max_active_runs=10) as dag:
        a = PythonOperator(task_id="a", python_callable=lambda: 1)
        a >> PythonOperator(task_id="b", python_callable=lambda: 2)
"""

PAST = """
    from tradewind import DAG, PythonOperator
    with DAG("past", schedule=None, max_active_runs=10) as dag:
        PythonOperator(task_id="t", python_callable=lambda: 1, depends_on_past=True)
"""

DAY = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _record_passes(job: SchedulerJob) -> list[tuple[bool, int, PassResult]]:
    """(full, events, result) of every pass ``job`` runs."""
    seen: list[tuple[bool, int, PassResult]] = []
    original = job.passes.run

    def recorded(session: Any, events: list[Any], now: Any, full: bool, *args: Any) -> PassResult:
        result = original(session, events, now, full, *args)
        seen.append((full, len(events), result))
        return result

    job.passes.run = recorded  # type: ignore[method-assign]
    return seen


def _until(condition: Callable[[], bool], seconds: float = 30.0) -> Callable[[], bool]:
    deadline = time.monotonic() + seconds
    return lambda: condition() or time.monotonic() > deadline


def _job(harness: Any, executor: ScriptedExecutor) -> SchedulerJob:
    # No idle pass within the test: only events (and the first pass) make passes.
    settings = harness.settings.with_values(scheduler__max_loop_interval=60.0)
    return SchedulerJob(settings, harness.engine, executor, request_handler=TaskRequestHandler)


def test_an_events_pass_decides_only_the_runs_its_events_touched(harness) -> None:
    harness.write("chain.py", CHAIN)
    harness.parse()
    fast = harness.trigger("chain", logical_date=DAY)
    for day in range(1, 5):  # four more runs whose first task never ends
        harness.trigger("chain", logical_date=DAY + dt.timedelta(days=day))

    def script(workload: TaskWorkload) -> str:
        return "success" if workload.run_id == fast else "block"

    executor = ScriptedExecutor(run_for=0.05, script=script)
    job = _job(harness, executor)
    passes = _record_passes(job)
    job.run(until=_until(harness.run_finished("chain", fast)))
    assert harness.run_state("chain", fast) == "success"
    first_full, _events, first = passes[0]
    assert first_full and first.runs_decided == 5
    later = [result for full, events, result in passes[1:] if not full and events]
    assert later, "the fast run's tries were decided by passes of their events"
    # Each decided the fast run alone, not the four running runs with nothing new.
    assert [result.runs_decided for result in later] == [1] * len(later)
    assert [result.tis_decided for result in later] == [2] * len(later)


def test_the_next_run_waiting_on_the_past_is_decided_by_the_event_that_frees_it(
    harness,
) -> None:
    harness.write("past.py", PAST)
    harness.parse()
    first = harness.trigger("past", logical_date=DAY)
    second = harness.trigger("past", logical_date=DAY + dt.timedelta(days=1))
    third = harness.trigger("past", logical_date=DAY + dt.timedelta(days=2))
    executor = ScriptedExecutor(run_for=0.05)
    job = _job(harness, executor)
    passes = _record_passes(job)
    # Without the next run in the events pass, the second run would wait for a full pass
    # (max_loop_interval is a minute): the test would time out instead.
    job.run(until=_until(lambda: harness.run_state("past", third) in ("success", "failed")))
    assert [run.state for run in harness.runs("past")] == ["success"] * 3
    assert executor.launched == ["t", "t", "t"]
    assert passes[0][0] and passes[0][2].runs_decided == 3
    queued_by_events = [
        [workload.run_id for workload in result.workloads]
        for full, events, result in passes[1:]
        if not full and result.workloads
    ]
    assert queued_by_events == [[second], [third]]
    # The pass freeing the second run decided the first and the second, not the third.
    freeing = next(result for full, _e, result in passes[1:] if result.workloads)
    assert freeing.runs_decided == 2
    assert harness.run_state("past", first) == "success"


def test_at_debug_each_pass_logs_its_duration_and_what_it_decided(harness, caplog) -> None:
    harness.write("chain.py", CHAIN)
    harness.parse()
    run_id = harness.trigger("chain")
    job = _job(harness, ScriptedExecutor(run_for=0.05))
    with caplog.at_level(logging.DEBUG, logger="tradewind.scheduler"):
        job.run(until=_until(harness.run_finished("chain", run_id)))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Pass in")]
    assert lines, "a DEBUG line per pass"
    assert re.fullmatch(
        r"Pass in [\d.]+ ms, [\d.]+ ms CPU \(full\): 0 events, 1 runs with 2 task instances "
        r"decided, 1 queued",
        lines[0],
    )
