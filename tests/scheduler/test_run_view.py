"""``run_view``: the task instances and XComs of several running runs, read at once, each
run getting its own rows only (runs of different DAGs share run ids)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db import engine as db_engine
from tradewind.db.models import DagRun, TaskInstance, XCom
from tradewind.scheduler import run_view
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.sdk.states import TaskInstanceState as TIS

from .conftest import SchedulerHarness

DAG = """
from datetime import datetime
from tradewind import DAG, task

with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1)):
    @task
    def produce():
        return 1

    @task
    def consume(value):
        return value

    consume(produce())
"""
DAY = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _prepare(harness: SchedulerHarness) -> None:
    """Runs r1 and r2 of DAGs a and b, with produce in a different state in each, and its XCom."""
    for dag_id in ("a", "b"):
        harness.write(f"{dag_id}.py", DAG.format(dag_id=dag_id))
    harness.parse()
    states = {("a", "r1"): TIS.SUCCESS, ("a", "r2"): TIS.FAILED, ("b", "r1"): TIS.SKIPPED}
    states[("b", "r2")] = TIS.UP_FOR_RETRY
    for index, (dag_id, run_id) in enumerate(states):
        harness.trigger(dag_id, run_id=run_id, logical_date=DAY + dt.timedelta(days=index))

    def add(session: Session) -> None:
        for (dag_id, run_id), state in states.items():
            session.add(TaskInstance(dag_id=dag_id, run_id=run_id, task_id="produce", state=state))
            session.add(TaskInstance(dag_id=dag_id, run_id=run_id, task_id="consume"))
            session.flush()
            session.add(
                XCom(
                    dag_id=dag_id,
                    run_id=run_id,
                    task_id="produce",
                    key="return_value",
                    value=f'"{dag_id}/{run_id}"',
                )
            )

    db_engine.run_in_transaction(harness.engine, add)


def _runs(session: Session, *keys: tuple[str, str]) -> list[DagRun]:
    runs = list(session.scalars(select(DagRun)))
    return [run for key in keys for run in runs if (run.dag_id, run.run_id) == key]


def test_each_run_gets_its_own_task_instances(harness: SchedulerHarness) -> None:
    _prepare(harness)

    def load(session: Session) -> dict[tuple[str, str], dict[str, str | None]]:
        loaded = run_view.load_runs(
            session, DagVersionCache(), _runs(session, ("a", "r1"), ("b", "r2"))
        )
        return {
            (item.run.dag_id, item.run.run_id): {ti.task_id: ti.state for ti in item.view.tis}
            for item in loaded
        }

    assert harness.read(load) == {
        ("a", "r1"): {"produce": TIS.SUCCESS.value, "consume": None},
        ("b", "r2"): {"produce": TIS.UP_FOR_RETRY.value, "consume": None},
    }


def test_each_run_pulls_its_own_xcoms(harness: SchedulerHarness) -> None:
    _prepare(harness)
    wanted = frozenset({("produce", "return_value", False)})

    def pull(session: Session) -> dict[tuple[str, str], object]:
        loaded = run_view.load_runs(
            session, DagVersionCache(), _runs(session, ("a", "r2"), ("b", "r1"))
        )
        values = run_view._xcoms(session, [(item, wanted) for item in loaded])
        return {
            (item.run.dag_id, item.run.run_id): values[item.run.id][
                ("produce", "return_value", False)
            ]
            for item in loaded
        }

    assert harness.read(pull) == {("a", "r2"): "a/r2", ("b", "r1"): "b/r1"}
