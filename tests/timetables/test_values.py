from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tradewind.timetables import DagRunInfo, DataInterval, TimeRestriction


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_data_interval_takes_naive_as_utc_and_converts_aware_to_utc():
    seoul = timezone(timedelta(hours=9))
    interval = DataInterval(datetime(2024, 1, 1), datetime(2024, 1, 2, 9, tzinfo=seoul))
    assert interval.start == utc(2024, 1, 1)
    assert interval.start.tzinfo is UTC
    assert interval.end == utc(2024, 1, 2)
    assert interval.end.tzinfo is UTC


def test_data_interval_exact_is_zero_length():
    assert DataInterval.exact(utc(2024, 1, 1)) == DataInterval(utc(2024, 1, 1), utc(2024, 1, 1))


def test_data_interval_rejects_end_before_start():
    with pytest.raises(ValueError, match="before it starts"):
        DataInterval(utc(2024, 1, 2), utc(2024, 1, 1))


def test_values_are_frozen():
    interval = DataInterval.exact(utc(2024, 1, 1))
    with pytest.raises(AttributeError):
        interval.start = utc(2023, 1, 1)  # type: ignore[misc]


def test_dag_run_info_interval_runs_after_the_end_and_is_dated_at_the_start():
    info = DagRunInfo.interval(utc(2024, 1, 1), utc(2024, 1, 2))
    assert info.run_after == utc(2024, 1, 2)
    assert info.logical_date == utc(2024, 1, 1)
    assert info.data_interval == DataInterval(utc(2024, 1, 1), utc(2024, 1, 2))


def test_dag_run_info_exact():
    info = DagRunInfo.exact(datetime(2024, 1, 1))
    assert info.run_after == info.logical_date == utc(2024, 1, 1)


def test_time_restriction_coerces_to_utc():
    restriction = TimeRestriction(datetime(2024, 1, 1), None, catchup=True)
    assert restriction.earliest == utc(2024, 1, 1)
    assert restriction.latest is None
