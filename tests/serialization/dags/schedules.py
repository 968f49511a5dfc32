"""One DAG per kind of schedule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from tradewind import DAG, EmptyOperator
from tradewind.timetables import CronDataIntervalTimetable, DeltaDataIntervalTimetable

START = datetime(2024, 1, 1)
SCHEDULES = {
    "manual": (None, START),
    "once": ("@once", START),
    "continuous": ("@continuous", START),
    "hourly": ("@hourly", START),
    "cron_new_york": ("0 3 * * 1-5", datetime(2024, 1, 1, tzinfo=ZoneInfo("America/New_York"))),
    "cron_offset": ("15 * * * *", datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=9)))),
    "every_30_minutes": (timedelta(minutes=30), START),
    "delta_object": (DeltaDataIntervalTimetable(timedelta(days=1)), START),
    "cron_object": (CronDataIntervalTimetable("@weekly", "Asia/Seoul"), START),
}

for dag_id, (schedule, start_date) in SCHEDULES.items():
    with DAG(f"schedule_{dag_id}", schedule=schedule, start_date=start_date):
        EmptyOperator(task_id="only")
