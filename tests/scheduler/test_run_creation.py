"""Scheduled runs: data intervals, catchup, start/end dates, @once, max_active_runs, next_dagrun.

The scheduler runs in this process with an injected clock; the DAGs have only EmptyOperators,
which the scheduler settles itself, so no task process is needed and time can be anything.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from tradewind.db import engine as db_engine
from tradewind.db.models import Dag
from tradewind.scheduler import run_lifecycle
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.services import dags

UTC = UTC


def _clock(at: datetime):
    return lambda: at


def _run_at(harness, at: datetime, passes: int = 1) -> None:
    harness.scheduler(clock=_clock(at), scheduler__max_loop_interval=0.01).run(max_passes=passes)


def _unpause_at(harness, dag_id: str, at: datetime) -> None:
    """Pause and unpause at ``at``: the next run is recomputed for that time (as on unpause)."""
    for paused in (True, False):
        db_engine.run_in_transaction(
            harness.engine, lambda s, p=paused: dags.set_paused(s, dag_id, p, now=at)
        )


def _dag_row(harness, dag_id: str) -> Dag:
    return harness.read(lambda s: s.scalar(select(Dag).where(Dag.dag_id == dag_id)))


DAILY = """
    from datetime import datetime
    from tradewind import DAG, EmptyOperator
    with DAG("{dag_id}", schedule="{schedule}", start_date=datetime(2024, 1, 1), catchup={catchup},
             max_active_runs={max_active_runs}{extra}) as dag:
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
"""


def _daily(
    harness,
    dag_id: str,
    *,
    schedule: str = "@daily",
    catchup: bool = True,
    max_active_runs: int = 16,
    extra: str = "",
) -> None:
    harness.write(
        f"{dag_id}.py",
        DAILY.format(
            dag_id=dag_id,
            schedule=schedule,
            catchup=catchup,
            max_active_runs=max_active_runs,
            extra=extra,
        ),
    )


def test_daily_run_covers_its_day_and_starts_after_it(harness) -> None:
    _daily(harness, "daily")
    harness.parse()
    row = _dag_row(harness, "daily")
    assert row.next_dagrun == datetime(2024, 1, 1, tzinfo=UTC)
    assert (row.next_dagrun_data_interval_start, row.next_dagrun_data_interval_end) == (
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 2, tzinfo=UTC),
    )
    assert row.next_dagrun_create_after == datetime(2024, 1, 2, tzinfo=UTC)

    _run_at(harness, datetime(2024, 1, 1, 23, 59, tzinfo=UTC))
    assert harness.runs("daily") == []

    _run_at(harness, datetime(2024, 1, 2, 0, 0, 1, tzinfo=UTC))
    (run,) = harness.runs("daily")
    assert run.run_id == "scheduled__2024-01-01T00:00:00+00:00"
    assert run.run_type == "scheduled"
    assert run.logical_date == datetime(2024, 1, 1, tzinfo=UTC)
    assert (run.data_interval_start, run.data_interval_end) == (
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 2, tzinfo=UTC),
    )
    assert run.state == "success"
    assert _dag_row(harness, "daily").next_dagrun == datetime(2024, 1, 2, tzinfo=UTC)


def test_catchup_creates_every_missed_interval_in_order(harness) -> None:
    _daily(harness, "caught_up")
    harness.parse()
    now = datetime(2024, 1, 6, 12, tzinfo=UTC)
    _run_at(harness, now, passes=3)
    runs = harness.runs("caught_up")
    assert [run.logical_date.day for run in runs] == [1, 2, 3, 4, 5]
    assert all(run.state == "success" for run in runs)
    # created oldest first
    assert [run.id for run in runs] == sorted(run.id for run in runs)
    row = _dag_row(harness, "caught_up")
    assert row.next_dagrun == datetime(2024, 1, 6, tzinfo=UTC)
    assert row.next_dagrun_create_after == datetime(2024, 1, 7, tzinfo=UTC)
    # Running again at the same time creates nothing twice.
    _run_at(harness, now)
    assert len(harness.runs("caught_up")) == 5


def test_catchup_false_creates_only_the_latest_interval(harness) -> None:
    _daily(harness, "latest_only", catchup=False)
    harness.parse()
    _unpause_at(harness, "latest_only", datetime(2024, 1, 6, 12, tzinfo=UTC))
    _run_at(harness, datetime(2024, 1, 6, 12, tzinfo=UTC))
    (run,) = harness.runs("latest_only")
    assert run.logical_date == datetime(2024, 1, 5, tzinfo=UTC)


def test_end_date_stops_scheduling(harness) -> None:
    _daily(harness, "ending", extra=", end_date=datetime(2024, 1, 3)")
    harness.parse()
    _run_at(harness, datetime(2024, 1, 10, tzinfo=UTC))
    assert [run.logical_date.day for run in harness.runs("ending")] == [1, 2, 3]
    assert _dag_row(harness, "ending").next_dagrun is None


def test_once_and_none_schedules(harness) -> None:
    _daily(harness, "once", schedule="@once")
    harness.write(
        "manual_only.py",
        """
        from tradewind import DAG, EmptyOperator
        with DAG("manual_only", schedule=None) as dag:
            EmptyOperator(task_id="a")
    """,
    )
    harness.parse()
    for day in (3, 4, 5):
        _run_at(harness, datetime(2024, 1, day, tzinfo=UTC))
    assert len(harness.runs("once")) == 1
    assert harness.runs("manual_only") == []
    assert _dag_row(harness, "once").next_dagrun is None


def test_timedelta_and_cron_schedules(harness) -> None:
    harness.write(
        "every_6h.py",
        """
        from datetime import datetime, timedelta
        from tradewind import DAG, EmptyOperator
        with DAG("every_6h", schedule=timedelta(hours=6), start_date=datetime(2024, 1, 1),
                 catchup=True) as dag:
            EmptyOperator(task_id="a")
        with DAG("cron_9am", schedule="0 9 * * *", start_date=datetime(2024, 1, 1),
                 catchup=True) as dag2:
            EmptyOperator(task_id="a")
    """,
    )
    harness.parse()
    _run_at(harness, datetime(2024, 1, 2, 10, tzinfo=UTC))
    assert [run.logical_date for run in harness.runs("every_6h")] == [
        datetime(2024, 1, 1, hour, tzinfo=UTC) for hour in (0, 6, 12, 18)
    ] + [datetime(2024, 1, 2, tzinfo=UTC)]
    (cron_run,) = harness.runs("cron_9am")
    assert (cron_run.data_interval_start, cron_run.data_interval_end) == (
        datetime(2024, 1, 1, 9, tzinfo=UTC),
        datetime(2024, 1, 2, 9, tzinfo=UTC),
    )


def test_paused_dag_gets_no_scheduled_runs_until_unpaused(harness) -> None:
    _daily(harness, "paused")
    harness.parse()
    db_engine.run_in_transaction(
        harness.engine,
        lambda s: dags.set_paused(s, "paused", True, now=datetime(2024, 1, 4, tzinfo=UTC)),
    )
    _run_at(harness, datetime(2024, 1, 4, tzinfo=UTC))
    assert harness.runs("paused") == []
    db_engine.run_in_transaction(
        harness.engine,
        lambda s: dags.set_paused(s, "paused", False, now=datetime(2024, 1, 4, tzinfo=UTC)),
    )
    _run_at(harness, datetime(2024, 1, 4, tzinfo=UTC))
    assert [run.logical_date.day for run in harness.runs("paused")] == [1, 2, 3]


def test_max_active_runs_bounds_running_runs(harness, engine) -> None:
    _daily(harness, "limited", max_active_runs=2)
    harness.parse()
    cache = DagVersionCache()
    now = datetime(2024, 1, 6, tzinfo=UTC)

    def step(session):
        created = run_lifecycle.create_due_runs(session, cache, now)
        started = run_lifecycle.start_queued_runs(session, cache, now)
        return [run.run_id for run in created], [run.run_id for run in started]

    created, started = db_engine.run_in_transaction(engine, step)
    assert len(created) == 2 and len(started) == 2
    created, started = db_engine.run_in_transaction(engine, step)
    assert created == [] and started == []
    # With the scheduler, runs finish and the next ones are created in order until caught up.
    _run_at(harness, now, passes=3)
    runs = harness.runs("limited")
    assert [run.logical_date.day for run in runs] == [1, 2, 3, 4, 5]
    assert all(run.state == "success" for run in runs)
