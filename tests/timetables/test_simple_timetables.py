from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tradewind.timetables import (
    ContinuousTimetable,
    DagRunInfo,
    DataInterval,
    NullTimetable,
    OnceTimetable,
    TimeRestriction,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


START = utc(2024, 1, 1)
NOW = utc(2024, 3, 10, 5)


def next_info(timetable, last=None, *, start=START, end=None, catchup=True, now=NOW):
    restriction = TimeRestriction(start, end, catchup)
    return timetable.next_dagrun_info(
        last_automated_data_interval=last, restriction=restriction, now=now
    )


def test_null_never_schedules():
    timetable = NullTimetable()
    assert next_info(timetable) is None
    assert next_info(timetable, catchup=False) is None
    assert list(timetable.iter_intervals(START, NOW)) == []
    assert timetable.can_be_scheduled is False
    assert timetable.periodic is False
    assert timetable.summary == "None"
    assert timetable.description == "Never, manually triggered only"


def test_manual_runs_of_instant_timetables_cover_the_trigger_instant():
    for timetable in (NullTimetable(), OnceTimetable(), ContinuousTimetable()):
        assert timetable.infer_manual_data_interval(run_after=NOW) == DataInterval.exact(NOW)


def test_once_runs_once_at_start_date_whatever_catchup_says():
    timetable = OnceTimetable()
    for catchup in (True, False):
        info = next_info(timetable, catchup=catchup)
        assert info == DagRunInfo.exact(START)
        assert info.logical_date == START
        assert next_info(timetable, info.data_interval, catchup=catchup) is None
    assert timetable.summary == "@once"
    assert timetable.description == "Once"
    assert timetable.can_be_scheduled is True
    assert timetable.periodic is False


def test_once_without_start_date_or_after_end_date_never_runs():
    assert next_info(OnceTimetable(), start=None) is None
    assert next_info(OnceTimetable(), end=START - timedelta(days=1)) is None
    assert next_info(OnceTimetable(), end=START) == DagRunInfo.exact(START)


def test_once_iter_intervals_yields_the_one_run():
    assert [info.logical_date for info in OnceTimetable().iter_intervals(START, NOW)] == [START]


def test_continuous_first_run_spans_start_date_to_now():
    info = next_info(ContinuousTimetable())
    assert info == DagRunInfo.interval(START, NOW)
    assert info.run_after == NOW


def test_continuous_next_run_starts_where_the_last_ended():
    last = DataInterval(START, utc(2024, 3, 10, 4))
    assert next_info(ContinuousTimetable(), last).data_interval == DataInterval(
        utc(2024, 3, 10, 4), NOW
    )


def test_continuous_with_start_date_in_the_future():
    future = utc(2025, 1, 1)
    first = next_info(ContinuousTimetable(), start=future)
    assert first == DagRunInfo.interval(future, future)
    assert next_info(
        ContinuousTimetable(), first.data_interval, start=future
    ) == DagRunInfo.interval(future, future)


def test_continuous_stops_at_end_date_and_needs_start_date():
    assert next_info(ContinuousTimetable(), end=utc(2024, 2, 1)) is None
    assert next_info(ContinuousTimetable(), start=None) is None


def test_continuous_flags_and_no_backfill():
    timetable = ContinuousTimetable()
    assert timetable.active_runs_limit == 1
    assert timetable.summary == "@continuous"
    assert timetable.periodic is False
    assert list(timetable.iter_intervals(START, NOW)) == []


def test_parameterless_timetables_compare_equal():
    assert NullTimetable() == NullTimetable()
    assert OnceTimetable() != NullTimetable()
    assert hash(OnceTimetable()) == hash(OnceTimetable())
