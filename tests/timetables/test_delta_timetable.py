from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradewind.exceptions import DagDefinitionError
from tradewind.timetables import (
    DagRunInfo,
    DataInterval,
    DeltaDataIntervalTimetable,
    TimeRestriction,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


EVERY_2H = DeltaDataIntervalTimetable(timedelta(hours=2))
START = utc(2024, 1, 1, 0, 17)
NOW = utc(2024, 1, 5, 10, 30)


def next_info(timetable, last=None, *, start=START, end=None, catchup=True, now=NOW):
    restriction = TimeRestriction(start, end, catchup)
    return timetable.next_dagrun_info(
        last_automated_data_interval=last, restriction=restriction, now=now
    )


def test_catchup_first_interval_starts_at_start_date():
    assert next_info(EVERY_2H) == DagRunInfo.interval(START, START + timedelta(hours=2))


def test_catchup_follows_the_previous_interval():
    last = DataInterval(START, START + timedelta(hours=2))
    assert next_info(EVERY_2H, last).data_interval == DataInterval(
        START + timedelta(hours=2), START + timedelta(hours=4)
    )


def test_no_catchup_gives_the_latest_complete_interval_on_the_start_date_grid():
    info = next_info(EVERY_2H, catchup=False)  # now 2024-01-05 10:30; grid ...08:17, 10:17, 12:17
    assert info.data_interval == DataInterval(utc(2024, 1, 5, 8, 17), utc(2024, 1, 5, 10, 17))
    assert info.run_after <= utc(2024, 1, 5, 10, 30)


def test_no_catchup_now_on_a_boundary():
    info = next_info(EVERY_2H, catchup=False, now=utc(2024, 1, 5, 10, 17))
    assert info.data_interval == DataInterval(utc(2024, 1, 5, 8, 17), utc(2024, 1, 5, 10, 17))


def test_no_catchup_before_the_first_interval_is_complete():
    info = next_info(EVERY_2H, catchup=False, now=START + timedelta(minutes=5))
    assert info.data_interval == DataInterval(START, START + timedelta(hours=2))


def test_no_catchup_skips_forward_from_an_old_run_and_follows_a_recent_one():
    old = DataInterval(START, START + timedelta(hours=2))
    assert next_info(EVERY_2H, old, catchup=False).data_interval.start == utc(2024, 1, 5, 8, 17)
    recent = DataInterval(utc(2024, 1, 5, 8, 17), utc(2024, 1, 5, 10, 17))
    assert next_info(EVERY_2H, recent, catchup=False).data_interval.start == utc(2024, 1, 5, 10, 17)


def test_no_start_date_without_catchup_aligns_to_the_epoch():
    info = next_info(EVERY_2H, start=None, catchup=False)
    assert info.data_interval == DataInterval(utc(2024, 1, 5, 8), utc(2024, 1, 5, 10))


def test_no_start_date_with_catchup_never_runs():
    assert next_info(EVERY_2H, start=None) is None


def test_end_date():
    last = DataInterval(START, START + timedelta(hours=2))
    assert next_info(EVERY_2H, last, end=START + timedelta(hours=2)) is not None
    assert next_info(EVERY_2H, last, end=START + timedelta(hours=1)) is None


def test_delta_is_absolute_time_across_dst():
    daily = DeltaDataIntervalTimetable(timedelta(days=1))
    infos = list(daily.iter_intervals(utc(2024, 3, 30), utc(2024, 4, 1)))
    assert [info.logical_date for info in infos] == [
        utc(2024, 3, 30),
        utc(2024, 3, 31),
        utc(2024, 4, 1),
    ]


def test_iter_intervals_over_31_days():
    daily = DeltaDataIntervalTimetable(timedelta(days=1))
    infos = list(daily.iter_intervals(utc(2024, 1, 1), utc(2024, 1, 31)))
    assert len(infos) == 31
    assert infos[-1].data_interval == DataInterval(utc(2024, 1, 31), utc(2024, 2, 1))


def test_manual_run_covers_the_delta_before_it():
    assert EVERY_2H.infer_manual_data_interval(run_after=utc(2024, 1, 5, 10, 30)) == DataInterval(
        utc(2024, 1, 5, 8, 30), utc(2024, 1, 5, 10, 30)
    )


def test_summary_description_and_flags():
    assert EVERY_2H.summary == "2:00:00"
    assert EVERY_2H.description == "Every 2 hours"
    assert DeltaDataIntervalTimetable(timedelta(days=1)).description == "Every day"
    assert EVERY_2H.periodic is True
    assert EVERY_2H.can_be_scheduled is True


@pytest.mark.parametrize("delta", [timedelta(0), timedelta(hours=-1)])
def test_delta_must_be_positive(delta):
    with pytest.raises(DagDefinitionError, match="must be positive"):
        DeltaDataIntervalTimetable(delta)


def test_delta_must_be_a_timedelta():
    with pytest.raises(DagDefinitionError, match="must be a datetime.timedelta"):
        DeltaDataIntervalTimetable(3600)  # type: ignore[arg-type]
