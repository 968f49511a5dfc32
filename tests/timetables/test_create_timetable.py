from __future__ import annotations

from datetime import UTC, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tradewind.exceptions import DagDefinitionError
from tradewind.timetables import (
    PRESETS,
    ContinuousTimetable,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DeltaDataIntervalTimetable,
    NullTimetable,
    OnceTimetable,
    create_timetable,
)
from tradewind.timetables.cron_expression import to_cron


def test_none_is_manual_only():
    assert create_timetable(None, "UTC") == NullTimetable()


def test_once_and_continuous_presets():
    assert create_timetable("@once", "UTC") == OnceTimetable()
    assert create_timetable("@continuous", "UTC") == ContinuousTimetable()


@pytest.mark.parametrize(
    ("preset", "cron"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@quarterly", "0 0 1 */3 *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
    ],
)
def test_cron_presets_map_like_airflow(preset, cron):
    timetable = create_timetable(preset, "UTC")
    assert timetable == CronDataIntervalTimetable(preset, UTC)
    assert timetable.summary == preset
    assert PRESETS[preset] == cron == to_cron(preset)


def test_cron_string_in_the_dag_timezone():
    timetable = create_timetable("0 3 * * *", ZoneInfo("Europe/Berlin"))
    assert timetable == CronDataIntervalTimetable("0 3 * * *", "Europe/Berlin")
    assert timetable.timezone == ZoneInfo("Europe/Berlin")


def test_timezone_defaults_to_utc_and_accepts_fixed_offsets():
    assert create_timetable("@daily").timezone is UTC
    assert create_timetable("@daily", timezone(timedelta(hours=9))).timezone == timezone(
        timedelta(hours=9)
    )
    assert create_timetable("@daily", "+09:00") == create_timetable(
        "@daily", timezone(timedelta(hours=9))
    )


def test_timedelta_is_a_delta_timetable():
    assert create_timetable(timedelta(hours=2), "UTC") == DeltaDataIntervalTimetable(
        timedelta(hours=2)
    )


def test_timetable_instance_is_used_as_given():
    timetable = CronDataIntervalTimetable("*/5 * * * *", "UTC")
    assert create_timetable(timetable, "Europe/Berlin") is timetable


def test_cron_without_data_intervals_like_airflow_3():
    timetable = create_timetable("@daily", "UTC", create_cron_data_intervals=False)
    assert timetable == CronTriggerTimetable("@daily", "UTC")
    assert create_timetable("@once", "UTC", create_cron_data_intervals=False) == OnceTimetable()


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (42, "got int 42"),
        (True, "got bool True"),
        (3.5, "got float 3.5"),
        (["dataset"], "asset/dataset schedules are not supported"),
        ({"cron": "@daily"}, "got dict"),
    ],
)
def test_other_types_fail_with_a_clear_message(schedule, message):
    with pytest.raises(
        DagDefinitionError, match="schedule must be None, a cron expression"
    ) as excinfo:
        create_timetable(schedule, "UTC")
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("every day", "expected 5 fields"),
        ("@fortnightly", "unknown preset"),
        ("@Daily", "unknown preset"),
        ("0 0 * * * *", "expected 5 fields"),
        ("0 24 * * *", "hour field '24': 24 is out of range 0-23"),
        ("0 0 * * FOO", "day of week"),
    ],
)
def test_invalid_strings_fail_naming_the_problem(schedule, message):
    with pytest.raises(DagDefinitionError, match="invalid") as excinfo:
        create_timetable(schedule, "UTC")
    assert message in str(excinfo.value)
    assert repr(schedule) in str(excinfo.value)


def test_zero_timedelta_fails():
    with pytest.raises(DagDefinitionError, match="positive"):
        create_timetable(timedelta(0), "UTC")


def test_unknown_timezone_fails():
    with pytest.raises(DagDefinitionError, match="unknown timezone"):
        create_timetable("@daily", "Europe/Atlantis")
