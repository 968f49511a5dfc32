from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tradewind.exceptions import DagDefinitionError
from tradewind.timetables import (
    CronDataIntervalTimetable,
    DagRunInfo,
    DataInterval,
    TimeRestriction,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


DAILY = CronDataIntervalTimetable("@daily", "UTC")
START = utc(2024, 1, 1)


def first(timetable, *, start=START, end=None, catchup=True, now=None):
    restriction = TimeRestriction(start, end, catchup)
    return timetable.next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction, now=now
    )


def after(timetable, last: DataInterval, *, start=START, end=None, catchup=True, now=None):
    restriction = TimeRestriction(start, end, catchup)
    return timetable.next_dagrun_info(
        last_automated_data_interval=last, restriction=restriction, now=now
    )


def test_daily_first_run_covers_the_start_date_and_runs_after_it_ends():
    info = first(DAILY, now=utc(2024, 1, 5))
    assert info == DagRunInfo.interval(utc(2024, 1, 1), utc(2024, 1, 2))
    assert info.logical_date == utc(2024, 1, 1)
    assert info.run_after == utc(2024, 1, 2)


def test_catchup_first_run_does_not_depend_on_now():
    assert first(DAILY, now=utc(2030, 1, 1)) == first(DAILY, now=utc(2023, 1, 1))


def test_start_date_between_fire_times_starts_at_the_next_fire_time():
    info = first(DAILY, start=utc(2024, 1, 1, 10), now=utc(2024, 1, 5))
    assert info.data_interval == DataInterval(utc(2024, 1, 2), utc(2024, 1, 3))


def test_catchup_continues_one_interval_after_another_even_far_behind():
    info = after(DAILY, DataInterval(utc(2024, 1, 1), utc(2024, 1, 2)), now=utc(2024, 6, 1))
    assert info.data_interval == DataInterval(utc(2024, 1, 2), utc(2024, 1, 3))


def test_no_catchup_first_run_is_the_latest_complete_interval():
    info = first(DAILY, catchup=False, now=utc(2024, 3, 10, 5, 30))
    assert info.data_interval == DataInterval(utc(2024, 3, 9), utc(2024, 3, 10))
    assert info.run_after == utc(2024, 3, 10)


def test_no_catchup_now_on_a_boundary_gives_the_interval_that_just_ended():
    info = first(DAILY, catchup=False, now=utc(2024, 3, 10))
    assert info.data_interval == DataInterval(utc(2024, 3, 9), utc(2024, 3, 10))


def test_no_catchup_never_starts_before_start_date():
    info = first(DAILY, start=utc(2024, 3, 9, 12), catchup=False, now=utc(2024, 3, 10, 5))
    assert info.data_interval == DataInterval(utc(2024, 3, 10), utc(2024, 3, 11))
    assert info.run_after > utc(2024, 3, 10, 5)  # not due yet: the scheduler waits for it


def test_no_catchup_with_start_date_in_the_future():
    info = first(DAILY, start=utc(2025, 1, 1), catchup=False, now=utc(2024, 3, 10))
    assert info.data_interval == DataInterval(utc(2025, 1, 1), utc(2025, 1, 2))


def test_no_catchup_skips_forward_when_the_last_run_is_far_behind():
    info = after(
        DAILY,
        DataInterval(utc(2024, 1, 1), utc(2024, 1, 2)),
        catchup=False,
        now=utc(2024, 3, 10, 5),
    )
    assert info.data_interval == DataInterval(utc(2024, 3, 9), utc(2024, 3, 10))


def test_no_catchup_follows_on_when_the_last_run_is_recent():
    info = after(
        DAILY,
        DataInterval(utc(2024, 3, 9), utc(2024, 3, 10)),
        catchup=False,
        now=utc(2024, 3, 10, 5),
    )
    assert info.data_interval == DataInterval(utc(2024, 3, 10), utc(2024, 3, 11))


def test_no_start_date_with_catchup_never_runs():
    assert first(DAILY, start=None, now=utc(2024, 3, 10)) is None


def test_no_start_date_without_catchup_runs_the_latest_interval():
    info = first(DAILY, start=None, catchup=False, now=utc(2024, 3, 10, 5))
    assert info.data_interval == DataInterval(utc(2024, 3, 9), utc(2024, 3, 10))


def test_end_date_stops_runs_starting_after_it():
    last = DataInterval(utc(2024, 1, 30), utc(2024, 1, 31))
    assert after(DAILY, last, end=utc(2024, 1, 31)).data_interval.start == utc(2024, 1, 31)
    last = DataInterval(utc(2024, 1, 31), utc(2024, 2, 1))
    assert after(DAILY, last, end=utc(2024, 1, 31)) is None
    assert first(DAILY, start=utc(2024, 2, 1), end=utc(2024, 1, 31)) is None


def test_end_date_also_bounds_no_catchup():
    assert first(DAILY, end=utc(2024, 2, 1), catchup=False, now=utc(2024, 3, 10)) is None


def test_previous_run_on_an_old_schedule_is_realigned():
    # The DAG used to run at 12:00; its next run starts at the last midnight before that end.
    info = after(DAILY, DataInterval(utc(2024, 1, 1, 12), utc(2024, 1, 2, 12)), now=utc(2024, 1, 5))
    assert info.data_interval == DataInterval(utc(2024, 1, 2), utc(2024, 1, 3))


@pytest.mark.parametrize(
    ("preset", "expected_start", "expected_end"),
    [
        ("@hourly", utc(2024, 1, 1), utc(2024, 1, 1, 1)),
        ("@daily", utc(2024, 1, 1), utc(2024, 1, 2)),
        (
            "@weekly",
            utc(2024, 1, 7),
            utc(2024, 1, 14),
        ),  # 2024-01-01 is a Monday; weeks start Sunday
        ("@monthly", utc(2024, 1, 1), utc(2024, 2, 1)),
        ("@quarterly", utc(2024, 1, 1), utc(2024, 4, 1)),
        ("@yearly", utc(2024, 1, 1), utc(2025, 1, 1)),
        ("@annually", utc(2024, 1, 1), utc(2025, 1, 1)),
    ],
)
def test_every_preset_first_and_second_interval(preset, expected_start, expected_end):
    timetable = CronDataIntervalTimetable(preset, "UTC")
    info = first(timetable, now=utc(2030, 1, 1))
    assert info.data_interval == DataInterval(expected_start, expected_end)
    assert info.run_after == expected_end
    following = after(timetable, info.data_interval, now=utc(2030, 1, 1))
    assert following.data_interval.start == expected_end


def test_quarterly_runs_on_the_first_of_january_april_july_october():
    timetable = CronDataIntervalTimetable("@quarterly", "UTC")
    starts = [
        info.logical_date for info in timetable.iter_intervals(utc(2024, 1, 1), utc(2024, 12, 31))
    ]
    assert starts == [utc(2024, 1, 1), utc(2024, 4, 1), utc(2024, 7, 1), utc(2024, 10, 1)]


def test_cron_expression_with_weekdays():
    timetable = CronDataIntervalTimetable("30 9 * * 1-5", "UTC")  # 2024-01-05 is a Friday
    info = after(
        timetable, DataInterval(utc(2024, 1, 4, 9, 30), utc(2024, 1, 5, 9, 30)), now=utc(2024, 2, 1)
    )
    assert info.data_interval == DataInterval(utc(2024, 1, 5, 9, 30), utc(2024, 1, 8, 9, 30))


def test_cron_is_read_on_the_dag_timezone_wall_clock():
    timetable = CronDataIntervalTimetable("@daily", ZoneInfo("Asia/Seoul"))
    info = first(timetable, start=utc(2023, 12, 31, 15), now=utc(2024, 2, 1))
    assert info.data_interval == DataInterval(utc(2023, 12, 31, 15), utc(2024, 1, 1, 15))
    assert info.logical_date.tzinfo is UTC


def test_timezone_may_be_given_by_name():
    assert CronDataIntervalTimetable("@daily", "Asia/Seoul") == CronDataIntervalTimetable(
        "@daily", ZoneInfo("Asia/Seoul")
    )
    assert CronDataIntervalTimetable("@daily", "UTC") == CronDataIntervalTimetable(
        "@daily", ZoneInfo("UTC")
    )


def test_naive_datetimes_are_taken_as_utc():
    restriction = TimeRestriction(datetime(2024, 1, 1), None, catchup=False)
    info = DAILY.next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction, now=datetime(2024, 3, 10, 5)
    )
    assert info.data_interval == DataInterval(utc(2024, 3, 9), utc(2024, 3, 10))
    assert info.run_after.tzinfo is UTC


def test_now_defaults_to_the_current_time():
    info = first(DAILY, catchup=False)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    # Right at midnight the clock may tick between the call and this line.
    assert info.data_interval.end in (today, today - timedelta(days=1), today + timedelta(days=1))


def test_manual_run_covers_the_last_complete_interval():
    assert DAILY.infer_manual_data_interval(run_after=utc(2024, 1, 25, 1)) == DataInterval(
        utc(2024, 1, 24), utc(2024, 1, 25)
    )
    assert DAILY.infer_manual_data_interval(run_after=utc(2024, 1, 25)) == DataInterval(
        utc(2024, 1, 24), utc(2024, 1, 25)
    )


def test_iter_intervals_over_31_days_gives_31_daily_intervals():
    infos = list(DAILY.iter_intervals(utc(2024, 1, 1), utc(2024, 1, 31)))
    assert len(infos) == 31
    assert infos[0].data_interval == DataInterval(utc(2024, 1, 1), utc(2024, 1, 2))
    assert infos[-1].data_interval == DataInterval(utc(2024, 1, 31), utc(2024, 2, 1))
    for earlier, later in zip(infos, infos[1:], strict=False):
        assert earlier.data_interval.end == later.data_interval.start


def test_iter_intervals_starts_at_the_first_fire_time_in_range():
    infos = list(DAILY.iter_intervals(utc(2024, 1, 1, 10), utc(2024, 1, 3, 23)))
    assert [info.logical_date for info in infos] == [utc(2024, 1, 2), utc(2024, 1, 3)]


def test_summary_is_the_schedule_as_written_and_flags():
    assert DAILY.summary == "@daily"
    assert CronDataIntervalTimetable("0 3 * * *").summary == "0 3 * * *"
    assert DAILY.periodic is True
    assert DAILY.can_be_scheduled is True


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 25 * * *", "hour field '25': 25 is out of range 0-23"),
        ("61 * * * *", "minute field '61': 61 is out of range 0-59"),
        ("0 0 0 * *", "day of month field '0': 0 is out of range 1-31"),
        ("0 0 * 13 *", "month field '13': 13 is out of range 1-12"),
        ("0 0 * * 8", "day of week field '8': 8 is out of range 0-7"),
        ("*/0 * * * *", "minute field '*/0': step '0' must be at least 1"),
        ("x * * * *", "minute field 'x': value 'x' is not a number"),
        ("* * *", "expected 5 fields"),
        ("* * * * * *", "expected 5 fields"),
        ("", "expected 5 fields"),
        ("0 0 30 2 *", "no date ever matches it"),
        ("@fortnightly", "unknown preset"),
    ],
)
def test_invalid_cron_fails_naming_the_expression_and_the_problem(expression, message):
    with pytest.raises(DagDefinitionError) as excinfo:
        CronDataIntervalTimetable(expression, "UTC")
    assert repr(expression) in str(excinfo.value)
    assert message in str(excinfo.value)


def test_unknown_timezone_fails():
    with pytest.raises(DagDefinitionError, match="unknown timezone 'Mars/Olympus'"):
        CronDataIntervalTimetable("@daily", "Mars/Olympus")
