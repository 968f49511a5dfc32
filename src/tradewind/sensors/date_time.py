"""Sensors that wait for a moment: ``DateTimeSensor`` (a date and time), ``TimeSensor`` (a time
of day) and ``DayOfWeekSensor`` (days of the week), as Airflow's standard sensors do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from tradewind.exceptions import DagDefinitionError, TradewindError
from tradewind.sdk import timezone
from tradewind.sdk.context import Context
from tradewind.sdk.weekday import WeekDay
from tradewind.sensors.base import BaseSensorOperator


class DateTimeSensor(BaseSensorOperator):
    """Succeeds once ``target_time`` (a datetime, or an ISO 8601 text, templated: e.g.
    ``"{{ data_interval_end + macros.timedelta(hours=1) }}"``) has passed. A naive time is in
    the DAG's zone."""

    template_fields: Sequence[str] = ("target_time",)

    def __init__(self, *, target_time: str | dt.datetime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(target_time, str | dt.datetime):
            raise DagDefinitionError(
                f"task {self.task_id!r}: target_time must be a datetime or a text, "
                f"got {type(target_time).__name__}"
            )
        self.target_time = target_time

    def poke(self, context: Context) -> bool:
        target = self.target_time
        if isinstance(target, str):
            try:
                target = dt.datetime.fromisoformat(target.strip())
            except ValueError as exc:
                raise TradewindError(
                    f"task {self.task_id!r}: target_time {target!r} is not an ISO 8601 time"
                ) from exc
        target = timezone.coerce_utc(target, _zone(self))
        self.log.info("Checking if the time (%s) has come", target.isoformat())
        return timezone.utcnow() > target


class TimeSensor(BaseSensorOperator):
    """Succeeds once the time of day ``target_time`` has passed today, in the DAG's zone."""

    def __init__(self, *, target_time: dt.time, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(target_time, dt.time):
            raise DagDefinitionError(
                f"task {self.task_id!r}: target_time must be a datetime.time, "
                f"got {type(target_time).__name__}"
            )
        self.target_time = target_time

    def poke(self, context: Context) -> bool:
        zone = _zone(self)
        today = timezone.utcnow().astimezone(zone).date()
        target = dt.datetime.combine(today, self.target_time.replace(tzinfo=None), zone)
        self.log.info("Checking if the time (%s) has come", target.isoformat())
        return timezone.utcnow() > target


class DayOfWeekSensor(BaseSensorOperator):
    """Succeeds on the days ``week_day`` names (today in the DAG's zone, or with
    ``use_task_logical_date`` the run's logical date)."""

    def __init__(
        self,
        *,
        week_day: str | WeekDay | Iterable[str | WeekDay],
        use_task_logical_date: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.week_day = week_day
        self._days = WeekDay.validate_week_day(week_day)
        self.use_task_logical_date = use_task_logical_date

    def poke(self, context: Context) -> bool:
        zone = _zone(self)
        moment = context.get("logical_date") if self.use_task_logical_date else None
        day = (moment or timezone.utcnow()).astimezone(zone).isoweekday()
        self.log.info("Checking if today (day %d) is one of %s", day, sorted(self._days))
        return day in self._days


def _zone(task: BaseSensorOperator) -> dt.tzinfo:
    return task.dag.timezone if task.has_dag else dt.UTC
