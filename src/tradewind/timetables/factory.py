"""From a DAG's ``schedule=`` argument to a timetable, as Airflow reads it.

``None`` is manual only, ``"@once"`` and ``"@continuous"`` are their own timetables, any
other string is a cron expression or preset, a ``timedelta`` is a fixed period, and a
Timetable is used as given. Anything else fails here, when the DAG file is parsed.
"""

from __future__ import annotations

from datetime import timedelta, tzinfo

from tradewind.exceptions import DagDefinitionError
from tradewind.timetables.base import Timetable
from tradewind.timetables.cron import CronDataIntervalTimetable, CronTriggerTimetable
from tradewind.timetables.interval import DeltaDataIntervalTimetable
from tradewind.timetables.simple import ContinuousTimetable, NullTimetable, OnceTimetable

__all__ = ["create_timetable"]


def create_timetable(
    schedule: str | timedelta | Timetable | None,
    timezone: tzinfo | str = "UTC",
    *,
    create_cron_data_intervals: bool = True,
) -> Timetable:
    """The timetable for ``schedule``; cron strings are read on the wall clock of ``timezone``.

    ``create_cron_data_intervals`` mirrors Airflow's setting of that name: True (Airflow 2's
    behaviour, and ours) gives cron strings data intervals between fire times; False gives
    ``CronTriggerTimetable`` runs at the fire times, as Airflow 3 does by default.
    """
    if schedule is None:
        return NullTimetable()
    if isinstance(schedule, Timetable):
        return schedule
    if isinstance(schedule, timedelta):
        return DeltaDataIntervalTimetable(schedule)
    if isinstance(schedule, str):
        preset = schedule.strip()
        if preset == "@once":
            return OnceTimetable()
        if preset == "@continuous":
            return ContinuousTimetable()
        if create_cron_data_intervals:
            return CronDataIntervalTimetable(schedule, timezone)
        return CronTriggerTimetable(schedule, timezone)
    hint = ""
    if isinstance(schedule, (list, tuple, set, frozenset)):
        hint = " (asset/dataset schedules are not supported)"
    elif type(schedule).__name__ == "relativedelta":
        hint = " (relativedelta is not supported: use a timedelta or a cron expression)"
    raise DagDefinitionError(
        "schedule must be None, a cron expression or preset such as '@daily', '@once', "
        f"a datetime.timedelta or a Timetable; got {type(schedule).__name__} {schedule!r}{hint}"
    )
