"""The context keys of Airflow 2 that DAG templates still use, as Airflow 2 computed them:
the schedule's previous and next logical dates (a run triggered by hand: its own), and the
days around ``ds``."""

from __future__ import annotations

from datetime import datetime, timedelta

from tradewind import DAG, PythonOperator
from tradewind.runner.runtime import RunInfo
from tradewind.runner.xcom_store import InMemoryXComStore
from tradewind.sdk.states import DagRunType
from tradewind.services.dag_test import LocalDagRun, make_run_info

KEYS = (
    "prev_ds",
    "next_ds",
    "yesterday_ds",
    "tomorrow_ds",
    "prev_ds_nodash",
    "next_ds_nodash",
    "yesterday_ds_nodash",
    "tomorrow_ds_nodash",
)


def _keys(dag: DAG, run: RunInfo) -> dict[str, str]:
    xcoms = InMemoryXComStore()
    LocalDagRun(dag, run, xcoms=xcoms, use_retry_delay=False).execute()
    return xcoms.get(dag.dag_id, run.run_id, "show", -1, "return_value")


def _dag(schedule: str) -> DAG:
    with DAG("old_keys", schedule=schedule, start_date=datetime(2024, 1, 1)) as dag:
        PythonOperator(
            task_id="show",
            python_callable=lambda **context: {key: context[key] for key in KEYS},
        )
    return dag


def _scheduled(dag: DAG, start: datetime, end: datetime) -> RunInfo:
    return RunInfo(
        dag_id=dag.dag_id,
        run_id=f"scheduled__{start.isoformat()}",
        logical_date=start,
        data_interval_start=start,
        data_interval_end=end,
        run_type=DagRunType.SCHEDULED.value,
        conf={},
    )


def test_a_scheduled_daily_run() -> None:
    dag = _dag("@daily")
    keys = _keys(dag, _scheduled(dag, datetime(2024, 3, 5), datetime(2024, 3, 6)))
    assert keys == {
        "prev_ds": "2024-03-04",
        "next_ds": "2024-03-06",
        "yesterday_ds": "2024-03-04",
        "tomorrow_ds": "2024-03-06",
        "prev_ds_nodash": "20240304",
        "next_ds_nodash": "20240306",
        "yesterday_ds_nodash": "20240304",
        "tomorrow_ds_nodash": "20240306",
    }


def test_a_weekday_schedule_s_monday_follows_friday() -> None:
    dag = _dag("0 0 * * 1-5")
    monday = datetime(2024, 3, 4)
    keys = _keys(dag, _scheduled(dag, monday, monday + timedelta(days=1)))
    assert (keys["prev_ds"], keys["next_ds"]) == ("2024-03-01", "2024-03-05")
    assert keys["yesterday_ds"] == "2024-03-03"


def test_a_run_triggered_by_hand_is_its_own_previous_and_next() -> None:
    dag = _dag("@daily")
    keys = _keys(dag, make_run_info(dag, datetime(2024, 3, 5, 12), {}))
    assert keys["prev_ds"] == keys["next_ds"] == "2024-03-05"
