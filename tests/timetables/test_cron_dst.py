"""Cron schedules across daylight-saving transitions: wall-clock semantics, correct UTC instants.

2024 transitions used here:
  Europe/Berlin     spring 03-31 02:00 CET -> 03:00 CEST (01:00Z);
                    fall 10-27 03:00 CEST -> 02:00 CET (01:00Z)
  America/New_York  spring 03-10 02:00 EST -> 03:00 EDT (07:00Z);
                    fall 11-03 02:00 EDT -> 01:00 EST (06:00Z)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from tradewind.timetables import CronDataIntervalTimetable, DataInterval, TimeRestriction
from tradewind.timetables.cron_times import CronFireTimes

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def run_starts(timetable, start, end):
    return [info.logical_date for info in timetable.iter_intervals(start, end)]


def scheduled(timetable, start, count):
    """``count`` consecutive intervals as the scheduler would create them with catchup."""
    restriction = TimeRestriction(start, None, catchup=True)
    infos, last = [], None
    for _ in range(count):
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last, restriction=restriction
        )
        infos.append(info)
        last = info.data_interval
    return infos


def test_berlin_daily_across_spring_forward():
    timetable = CronDataIntervalTimetable("0 2 * * *", BERLIN)
    infos = scheduled(timetable, utc(2024, 3, 29), 4)
    assert [info.data_interval for info in infos] == [
        DataInterval(utc(2024, 3, 29, 1), utc(2024, 3, 30, 1)),  # 02:00 CET
        DataInterval(utc(2024, 3, 30, 1), utc(2024, 3, 31, 1)),  # 02:00 does not exist: 03:00 CEST
        DataInterval(utc(2024, 3, 31, 1), utc(2024, 4, 1, 0)),  # a 23-hour day
        DataInterval(utc(2024, 4, 1, 0), utc(2024, 4, 2, 0)),  # 02:00 CEST
    ]
    assert [info.run_after for info in infos] == [info.data_interval.end for info in infos]


def test_berlin_daily_across_fall_back_runs_once_on_the_repeated_hour():
    timetable = CronDataIntervalTimetable("0 2 * * *", BERLIN)
    infos = scheduled(timetable, utc(2024, 10, 25), 4)
    assert [info.data_interval for info in infos] == [
        DataInterval(utc(2024, 10, 25, 0), utc(2024, 10, 26, 0)),  # 02:00 CEST
        DataInterval(utc(2024, 10, 26, 0), utc(2024, 10, 27, 0)),  # first 02:00 (CEST) only
        DataInterval(utc(2024, 10, 27, 0), utc(2024, 10, 28, 1)),  # a 25-hour day
        DataInterval(utc(2024, 10, 28, 1), utc(2024, 10, 29, 1)),  # 02:00 CET
    ]


def test_berlin_daily_one_run_per_local_day_over_the_whole_year():
    timetable = CronDataIntervalTimetable("0 2 * * *", BERLIN)
    starts = run_starts(timetable, utc(2024, 1, 1), utc(2024, 12, 31, 12))
    assert len(starts) == 366
    local_days = [start.astimezone(BERLIN).date() for start in starts]
    assert len(set(local_days)) == 366
    spring = starts[local_days.index(datetime(2024, 3, 31).date())]
    assert spring.astimezone(BERLIN).strftime("%H:%M %Z") == "03:00 CEST"
    assert all(s.astimezone(BERLIN).hour == 2 for s in starts if s != spring)


def test_new_york_midnight_daily_across_both_transitions():
    timetable = CronDataIntervalTimetable("@daily", NEW_YORK)
    spring = scheduled(timetable, utc(2024, 3, 9, 5), 2)
    assert [info.data_interval for info in spring] == [
        DataInterval(utc(2024, 3, 9, 5), utc(2024, 3, 10, 5)),  # midnight EST
        DataInterval(utc(2024, 3, 10, 5), utc(2024, 3, 11, 4)),  # to midnight EDT: 23 hours
    ]
    fall = scheduled(timetable, utc(2024, 11, 2, 4), 2)
    assert [info.data_interval for info in fall] == [
        DataInterval(utc(2024, 11, 2, 4), utc(2024, 11, 3, 4)),
        DataInterval(utc(2024, 11, 3, 4), utc(2024, 11, 4, 5)),  # 25 hours
    ]


def test_new_york_daily_in_the_spring_gap_fires_shifted_forward():
    timetable = CronDataIntervalTimetable("30 2 * * *", NEW_YORK)
    starts = run_starts(timetable, utc(2024, 3, 9), utc(2024, 3, 11, 12))
    assert starts == [utc(2024, 3, 9, 7, 30), utc(2024, 3, 10, 7, 30), utc(2024, 3, 11, 6, 30)]
    assert [s.astimezone(NEW_YORK).strftime("%H:%M") for s in starts] == ["02:30", "03:30", "02:30"]


def test_new_york_daily_in_the_fall_overlap_fires_on_the_first_occurrence():
    timetable = CronDataIntervalTimetable("30 1 * * *", NEW_YORK)
    starts = run_starts(timetable, utc(2024, 11, 2), utc(2024, 11, 4, 12))
    assert starts == [utc(2024, 11, 2, 5, 30), utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)]
    assert starts[1].astimezone(NEW_YORK).strftime("%H:%M %Z") == "01:30 EDT"


def test_hourly_in_berlin_fires_every_hour_through_both_transitions():
    timetable = CronDataIntervalTimetable("@hourly", BERLIN)
    for start in (utc(2024, 3, 30, 22), utc(2024, 10, 26, 21)):
        starts = run_starts(timetable, start, start + timedelta(hours=6))
        assert starts == [start + timedelta(hours=n) for n in range(7)]
    fall = run_starts(timetable, utc(2024, 10, 26, 23), utc(2024, 10, 27, 2))
    assert [s.astimezone(BERLIN).strftime("%H:%M%z") for s in fall] == [
        "01:00+0200",
        "02:00+0200",
        "02:00+0100",  # the repeated hour is not skipped
        "03:00+0100",
    ]


def test_hourly_in_new_york_fires_every_hour_through_both_transitions():
    timetable = CronDataIntervalTimetable("15 * * * *", NEW_YORK)
    for start in (utc(2024, 3, 10, 4, 15), utc(2024, 11, 3, 3, 15)):
        starts = run_starts(timetable, start, start + timedelta(hours=6))
        assert starts == [start + timedelta(hours=n) for n in range(7)]


def test_no_catchup_latest_interval_on_the_fall_back_day():
    timetable = CronDataIntervalTimetable("0 2 * * *", BERLIN)
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(utc(2024, 1, 1), None, catchup=False),
        now=utc(2024, 10, 28, 12),
    )
    assert info.data_interval == DataInterval(utc(2024, 10, 27, 0), utc(2024, 10, 28, 1))


def test_manual_run_inside_the_repeated_hour():
    timetable = CronDataIntervalTimetable("0 * * * *", BERLIN)
    # 01:30Z is 02:30 CET, the second pass through
    # 02:30: the last complete hour began at 02:00 CEST.
    assert timetable.infer_manual_data_interval(run_after=utc(2024, 10, 27, 1, 30)) == DataInterval(
        utc(2024, 10, 27, 0), utc(2024, 10, 27, 1)
    )


# A reference built from the definition, minute by minute, to check the fast search against.


def reference_fire_times(
    cron: str, zone: ZoneInfo, start: datetime, end: datetime
) -> list[datetime]:
    """Instants whose wall time matches; in an overlap only the first pass, unless hourly."""
    every_hour = croniter(cron).expanded[1] == ["*"]
    fires = set()
    instant = start
    while instant <= end:
        local = instant.astimezone(zone)
        wall = local.replace(tzinfo=None, fold=0)
        if croniter.match(cron, wall) and (every_hour or local.fold == 0):
            fires.add(instant)
        instant += timedelta(minutes=1)
    # A wall time skipped by a gap fires when the clock would have shown it (shifted forward).
    for wall in gap_walls(zone, start, end):
        if croniter.match(cron, wall):
            fires.add(wall.replace(tzinfo=zone, fold=0).astimezone(UTC))
    return sorted(fire for fire in fires if start <= fire <= end)


def gap_walls(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Wall times skipped by the gaps in ``[start, end]``."""
    walls = []
    instant = start
    while instant < end:
        before = instant.astimezone(zone)
        after = (instant + timedelta(minutes=1)).astimezone(zone)
        wall = before.replace(tzinfo=None) + timedelta(minutes=1)
        while wall < after.replace(tzinfo=None):
            walls.append(wall)
            wall += timedelta(minutes=1)
        instant += timedelta(minutes=1)
    return walls


@pytest.mark.parametrize(
    ("zone_name", "start"),
    [
        ("Europe/Berlin", utc(2024, 3, 30, 20)),
        ("Europe/Berlin", utc(2024, 10, 26, 20)),
        ("America/New_York", utc(2024, 3, 10, 2)),
        ("America/New_York", utc(2024, 11, 3, 1)),
        ("Australia/Lord_Howe", utc(2024, 4, 6, 12)),  # half-hour DST shift
        ("Australia/Lord_Howe", utc(2024, 10, 5, 12)),
        ("Asia/Kolkata", utc(2024, 3, 30, 20)),
    ],
)
@pytest.mark.parametrize(
    "cron",
    [
        "0 2 * * *",
        "30 2 * * *",
        "0 * * * *",
        "*/20 * * * *",
        "45 1,2,3 * * *",
        "0 */2 * * *",
        "10 3 * * *",
    ],
)
def test_fire_times_match_the_definition_near_transitions(zone_name, start, cron):
    zone = ZoneInfo(zone_name)
    end = start + timedelta(hours=14)
    expected = reference_fire_times(cron, zone, start, end)
    fire_times = CronFireTimes(cron, zone)
    walked = []
    fire = fire_times.align_next(start)
    while fire <= end:
        walked.append(fire)
        fire = fire_times.next_after(fire)
    assert walked == expected
    backwards = []
    fire = fire_times.align_prev(end)
    while fire >= start:
        backwards.append(fire)
        fire = fire_times.prev_before(fire)
    assert backwards == expected[::-1]
