from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tradewind.exceptions import DagDefinitionError
from tradewind.timetables import CronTriggerTimetable, DagRunInfo, DataInterval, TimeRestriction


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


DAILY = CronTriggerTimetable("@daily", "UTC")
START = utc(2024, 1, 1)
NOW = utc(2024, 3, 10, 5)


def next_info(timetable, last=None, *, start=START, end=None, catchup=True, now=NOW):
    restriction = TimeRestriction(start, end, catchup)
    return timetable.next_dagrun_info(
        last_automated_data_interval=last, restriction=restriction, now=now
    )


def test_runs_at_the_fire_time_with_a_zero_length_interval():
    info = next_info(DAILY)
    assert info == DagRunInfo.exact(utc(2024, 1, 1))
    assert next_info(DAILY, info.data_interval) == DagRunInfo.exact(utc(2024, 1, 2))


def test_no_catchup_runs_the_latest_fire_time():
    assert next_info(DAILY, catchup=False) == DagRunInfo.exact(utc(2024, 3, 10))
    old = DataInterval.exact(utc(2024, 1, 1))
    assert next_info(DAILY, old, catchup=False) == DagRunInfo.exact(utc(2024, 3, 10))
    recent = DataInterval.exact(utc(2024, 3, 10))
    assert next_info(DAILY, recent, catchup=False) == DagRunInfo.exact(utc(2024, 3, 11))


def test_without_start_date_waits_for_the_next_fire_time():
    assert next_info(DAILY, start=None) == DagRunInfo.exact(utc(2024, 3, 11))
    assert next_info(DAILY, start=None, catchup=False) == DagRunInfo.exact(utc(2024, 3, 11))


def test_interval_ends_at_the_fire_time():
    timetable = CronTriggerTimetable(
        "0 3 * * *", ZoneInfo("Europe/Berlin"), interval=timedelta(hours=1)
    )
    info = next_info(timetable)
    assert info.run_after == utc(2024, 1, 1, 2)
    assert info.data_interval == DataInterval(utc(2024, 1, 1, 1), utc(2024, 1, 1, 2))
    assert timetable.infer_manual_data_interval(run_after=NOW) == DataInterval(
        NOW - timedelta(hours=1), NOW
    )


def test_end_date():
    assert next_info(DAILY, DataInterval.exact(utc(2024, 1, 31)), end=utc(2024, 1, 31, 12)) is None


def test_iter_intervals_over_31_days():
    assert len(list(DAILY.iter_intervals(utc(2024, 1, 1), utc(2024, 1, 31)))) == 31


def test_negative_interval_is_rejected():
    with pytest.raises(DagDefinitionError, match="interval"):
        CronTriggerTimetable("@daily", "UTC", interval=timedelta(hours=-1))


def test_summary_and_description():
    assert DAILY.summary == "@daily"
    assert DAILY.description == "At 00:00, every day"
    assert DAILY.periodic is True
