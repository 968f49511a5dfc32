"""When DAGs run: timetables for cron, timedelta,
preset and manual schedules, and their data intervals.

``create_timetable(schedule, timezone)`` turns a DAG's ``schedule=`` argument into a
Timetable; the scheduler asks it for the next run (``next_dagrun_info``) and stores it with
``serialize``/``deserialize``. Importing this package does not import croniter.
"""

from __future__ import annotations

from tradewind.timetables.base import (
    DagRunInfo,
    DataInterval,
    TimeRestriction,
    Timetable,
    deserialize,
)
from tradewind.timetables.cron import CronDataIntervalTimetable, CronTriggerTimetable
from tradewind.timetables.cron_expression import PRESETS
from tradewind.timetables.factory import create_timetable
from tradewind.timetables.interval import DataIntervalTimetable, DeltaDataIntervalTimetable
from tradewind.timetables.simple import ContinuousTimetable, NullTimetable, OnceTimetable

__all__ = [
    "ContinuousTimetable",
    "CronDataIntervalTimetable",
    "CronTriggerTimetable",
    "DagRunInfo",
    "DataInterval",
    "DataIntervalTimetable",
    "DeltaDataIntervalTimetable",
    "NullTimetable",
    "OnceTimetable",
    "PRESETS",
    "TimeRestriction",
    "Timetable",
    "create_timetable",
    "deserialize",
]
