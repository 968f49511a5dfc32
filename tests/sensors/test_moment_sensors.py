"""``DateTimeSensor``, ``TimeSensor``, ``DayOfWeekSensor`` and ``BashSensor``: each succeeds
once its moment or condition holds, and otherwise keeps poking until its timeout."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tradewind import DAG
from tradewind.exceptions import DagDefinitionError
from tradewind.sdk import timezone
from tradewind.sdk.weekday import WeekDay
from tradewind.sensors.bash import BashSensor
from tradewind.sensors.date_time import DateTimeSensor, DayOfWeekSensor, TimeSensor
from tradewind.services.dag_test import LocalDagRun, make_run_info

FAST = {"poke_interval": 0.05, "timeout": 0.3}


def _states(dag: DAG) -> dict[str, str]:
    run = make_run_info(dag, dt.datetime(2024, 3, 1), {})
    result = LocalDagRun(dag, run, use_retry_delay=False).execute()
    return {ti.key: ti.state.value for ti in result.task_instances if ti.state}


def test_date_time_sensor_waits_for_its_templated_moment() -> None:
    with DAG("moments", schedule=None) as dag:
        DateTimeSensor(task_id="past", target_time="{{ data_interval_end }}", **FAST)
        future = (timezone.utcnow() + dt.timedelta(days=1)).isoformat()
        DateTimeSensor(task_id="future", target_time=future, **FAST)
        DateTimeSensor(task_id="not_a_time", target_time="tomorrow-ish", **FAST)
    assert _states(dag) == {"past": "success", "future": "failed", "not_a_time": "failed"}


def test_time_sensor_compares_the_time_of_day_in_the_dag_s_zone() -> None:
    now_in_seoul = timezone.utcnow().astimezone(dt.timezone(dt.timedelta(hours=9)))
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    with DAG("times", schedule=None, start_date=start) as dag:
        TimeSensor(task_id="midnight", target_time=dt.time(0, 0), **FAST)
        later = (now_in_seoul + dt.timedelta(minutes=30)).time()
        if later > now_in_seoul.time():  # not across midnight
            TimeSensor(task_id="later", target_time=later, **FAST)
    states = _states(dag)
    assert states["midnight"] == "success"
    assert states.get("later", "failed") == "failed"


def test_day_of_week_sensor() -> None:
    today = WeekDay(timezone.utcnow().isoweekday())
    other = WeekDay(today % 7 + 1)
    with DAG("days", schedule=None) as dag:
        DayOfWeekSensor(task_id="today", week_day=today.name.lower(), **FAST)
        DayOfWeekSensor(task_id="other", week_day={other}, **FAST)
        DayOfWeekSensor(
            task_id="logical",
            week_day=WeekDay.FRIDAY,  # 2024-03-01, the run's logical date, was a Friday
            use_task_logical_date=True,
            **FAST,
        )
    assert _states(dag) == {"today": "success", "other": "failed", "logical": "success"}


def test_a_day_that_is_no_day_is_refused() -> None:
    with pytest.raises(DagDefinitionError, match="'someday' is not a day of the week"):
        WeekDay.validate_week_day("someday")


def test_bash_sensor_pokes_until_the_command_succeeds(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.touch()
    with DAG("bashing", schedule=None) as dag:
        BashSensor(task_id="present", bash_command=f"test -e {flag}", **FAST)
        BashSensor(task_id="absent", bash_command=f"test -e {tmp_path / 'none'}", **FAST)
        BashSensor(
            task_id="wrong_code",
            bash_command="exit 3",
            retry_exit_code=1,
            **FAST,
        )
    assert _states(dag) == {"present": "success", "absent": "failed", "wrong_code": "failed"}


def test_deferrable_sensors_reschedule_until_a_triggerer_exists() -> None:
    with DAG("deferring", schedule=None):
        deferring = DateTimeSensor(task_id="d", target_time="2024-01-01T00:00:00", deferrable=True)
        poking = DateTimeSensor(task_id="p", target_time="2024-01-01T00:00:00")
    assert (deferring.mode, deferring.reschedule, deferring.deferrable) == (
        "reschedule",
        True,
        True,
    )
    assert poking.mode == "poke"
