"""What a DAG file leaves unset comes from the settings, as in Airflow: ``[core]
default_timezone`` is the zone of its naive datetimes (and so of its cron schedule),
``max_active_runs_per_dag`` and ``max_active_tasks_per_dag`` its limits. The DAG processor
applies them when it parses the file; the scheduler then keeps to what was stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from tradewind.db import engine as db_engine
from tradewind.db.models import Dag, DagVersion
from tradewind.scheduler import run_lifecycle
from tradewind.scheduler.dag_cache import DagVersionCache

from .test_limits_and_order import _assert_never_overlap


def _dag_row(harness, dag_id: str) -> Dag:
    return harness.read(lambda s: s.scalar(select(Dag).where(Dag.dag_id == dag_id)))


def _serialized(harness, dag_id: str) -> dict:
    text = harness.read(
        lambda s: s.scalar(
            select(DagVersion.serialized_dag)
            .where(DagVersion.dag_id == dag_id)
            .order_by(DagVersion.id.desc())
            .limit(1)
        )
    )
    return json.loads(text) if isinstance(text, str) else text


def _run_at(harness, at: datetime, passes: int = 1) -> None:
    harness.scheduler(clock=lambda: at, scheduler__max_loop_interval=0.01).run(max_passes=passes)


def test_unset_max_active_runs_is_max_active_runs_per_dag(harness, engine) -> None:
    harness.settings = harness.settings.with_values(core__max_active_runs_per_dag=2)
    source = """
        from datetime import datetime, UTC
        from tradewind import DAG, EmptyOperator
        with DAG("{dag_id}", schedule="@daily", start_date=datetime(2024, 1, 1, tzinfo=UTC),
                 catchup=True{extra}) as dag:
            EmptyOperator(task_id="a")
    """
    harness.write("unset.py", source.format(dag_id="unset", extra=""))
    harness.write("own.py", source.format(dag_id="own", extra=", max_active_runs=3"))
    harness.parse()
    assert _dag_row(harness, "unset").max_active_runs == 2
    assert _serialized(harness, "unset")["max_active_runs"] == 2
    assert _dag_row(harness, "own").max_active_runs == 3
    cache = DagVersionCache()
    now = datetime(2024, 1, 6, tzinfo=UTC)

    def step(session):
        created = run_lifecycle.create_due_runs(session, cache, now)
        started = run_lifecycle.start_queued_runs(session, cache, now)
        return sorted(run.dag_id for run in created), sorted(run.dag_id for run in started)

    created, started = db_engine.run_in_transaction(engine, step)
    assert created == started == ["own"] * 3 + ["unset"] * 2
    assert db_engine.run_in_transaction(engine, step) == ([], [])


def test_unset_max_active_tasks_is_max_active_tasks_per_dag(harness) -> None:
    harness.settings = harness.settings.with_values(core__max_active_tasks_per_dag=1)
    harness.write(
        "narrow_by_default.py",
        """
        import time
        from tradewind import DAG, PythonOperator
        with DAG("narrow_by_default", schedule=None) as dag:
            for name in ("p", "q", "r"):
                PythonOperator(task_id=name, python_callable=lambda: time.sleep(0.05))
    """,
    )
    harness.parse()
    assert _dag_row(harness, "narrow_by_default").max_active_tasks == 1
    run_id = harness.trigger("narrow_by_default")
    harness.run_until(harness.run_finished("narrow_by_default", run_id), timeout=30, parallelism=4)
    tis = harness.tis("narrow_by_default", run_id)
    assert {ti.state for ti in tis} == {"success"}
    _assert_never_overlap(tis)


def test_naive_datetimes_are_in_default_timezone(harness) -> None:
    harness.settings = harness.settings.with_values(core__default_timezone="Asia/Seoul")
    harness.write(
        "seoul.py",
        """
        from datetime import date, datetime
        from tradewind import DAG, EmptyOperator
        with DAG("seoul", schedule="@daily", start_date=datetime(2024, 1, 1),
                 end_date=date(2024, 1, 3), catchup=True,
                 default_args={"start_date": datetime(2024, 1, 2, 9)}) as dag:
            EmptyOperator(task_id="a")
    """,
    )
    harness.write(
        "explicit_utc.py",
        """
        from datetime import UTC, datetime
        from tradewind import DAG, EmptyOperator
        with DAG("explicit_utc", schedule="@daily", start_date=datetime(2024, 1, 1, tzinfo=UTC),
                 catchup=True) as dag:
            EmptyOperator(task_id="a")
    """,
    )
    harness.parse()
    seoul = _serialized(harness, "seoul")
    assert seoul["timezone"] == "Asia/Seoul"
    assert seoul["start_date"] == "2023-12-31T15:00:00+00:00"
    assert seoul["end_date"] == "2024-01-02T15:00:00+00:00"
    assert seoul["tasks"][0]["start_date"] == "2024-01-02T00:00:00+00:00"
    assert _serialized(harness, "explicit_utc")["timezone"] == "UTC"
    # @daily is Seoul's midnight: 15:00 UTC.
    row = _dag_row(harness, "seoul")
    assert (row.next_dagrun_data_interval_start, row.next_dagrun_data_interval_end) == (
        datetime(2023, 12, 31, 15, tzinfo=UTC),
        datetime(2024, 1, 1, 15, tzinfo=UTC),
    )
    _run_at(harness, datetime(2024, 1, 1, 15, 0, 1, tzinfo=UTC))
    (run,) = harness.runs("seoul")
    assert (run.data_interval_start, run.data_interval_end) == (
        datetime(2023, 12, 31, 15, tzinfo=UTC),
        datetime(2024, 1, 1, 15, tzinfo=UTC),
    )
    # An aware start_date keeps its own zone: UTC midnight, not yet due.
    assert harness.runs("explicit_utc") == []
    assert _dag_row(harness, "explicit_utc").next_dagrun_create_after == datetime(
        2024, 1, 2, tzinfo=UTC
    )
