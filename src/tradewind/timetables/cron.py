"""Cron schedules: runs covering the span between fire times, or runs at each fire time.

``CronDataIntervalTimetable`` is what ``schedule="@daily"`` or ``"0 3 * * *"`` means: the run
for a fire time covers the data up to the next fire time and starts then.
``CronTriggerTimetable`` runs *at* each fire time instead (Airflow 3's default for cron
strings), with a zero-length interval or one of a given length ending at the fire time.
Both read the expression on the DAG's wall clock; see ``cron_times`` for DST.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from tradewind.exceptions import DagDefinitionError
from tradewind.timetables import cron_expression, describe, zones
from tradewind.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from tradewind.timetables.cron_times import CronFireTimes
from tradewind.timetables.interval import DataIntervalTimetable

__all__ = ["CronDataIntervalTimetable", "CronTriggerTimetable"]


@dataclass(frozen=True, init=False)
class CronDataIntervalTimetable(DataIntervalTimetable):
    """Runs covering the interval between consecutive fire times of ``expression`` in ``timezone``.

    ``expression`` is a five-field cron or a preset (``@daily``); it is validated here, so a
    bad one fails when the DAG file is parsed with a message naming what is wrong.
    """

    expression: str
    timezone: tzinfo
    _fire_times: CronFireTimes = field(repr=False, compare=False)

    def __init__(self, expression: str, timezone: tzinfo | str = "UTC") -> None:
        _init_cron(self, expression, timezone)

    @property
    def summary(self) -> str:
        """The expression as written: ``"@daily"``, ``"0 3 * * *"``."""
        return self.expression

    @property
    def description(self) -> str:
        """The expression in words, or the expression itself when it is unusual."""
        return describe.describe_cron(self.expression)

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """The last complete interval: a manual run at 01:00
        on the 25th of a daily DAG covers the 24th."""
        end = self._fire_times.align_prev(zones.coerce_utc(run_after))
        return DataInterval(self._fire_times.prev_before(end), end)

    def serialize(self) -> dict[str, Any]:
        """``{"type": ..., "expression": ..., "timezone": <IANA name>}``."""
        return {
            "type": type(self).__name__,
            "expression": self.expression,
            "timezone": zones.timezone_name(self.timezone),
        }

    @classmethod
    def from_serialized(cls, data: Mapping[str, Any]) -> CronDataIntervalTimetable:
        """Inverse of ``serialize``."""
        return cls(data["expression"], data["timezone"])

    def _get_next(self, current: datetime) -> datetime:
        return self._fire_times.next_after(current)

    def _get_prev(self, current: datetime) -> datetime:
        return self._fire_times.prev_before(current)

    def _align_to_next(self, current: datetime) -> datetime:
        return self._fire_times.align_next(current)

    def _align_to_prev(self, current: datetime) -> datetime:
        return self._fire_times.align_prev(current)

    def _skip_to_latest(self, earliest: datetime | None, now: datetime) -> datetime:
        # The interval that ended at the last fire time at or before now is the latest complete one.
        latest_start = self._get_prev(self._align_to_prev(now))
        if earliest is None:
            return latest_start
        return max(latest_start, self._align_to_next(earliest))


@dataclass(frozen=True, init=False)
class CronTriggerTimetable(Timetable):
    """Runs at each fire time of ``expression``; the data interval is ``[fire - interval, fire]``.

    With catchup, missed fire times since start_date each get a run; without, only the most
    recent one does. A DAG without start_date first runs at the next fire time.
    """

    periodic = True

    expression: str
    timezone: tzinfo
    interval: timedelta
    _fire_times: CronFireTimes = field(repr=False, compare=False)

    def __init__(
        self, expression: str, timezone: tzinfo | str = "UTC", *, interval: timedelta = timedelta(0)
    ) -> None:
        if not isinstance(interval, timedelta) or interval < timedelta(0):
            raise DagDefinitionError(
                f"interval must be a timedelta of zero or more, got {interval!r}"
            )
        object.__setattr__(self, "interval", interval)
        _init_cron(self, expression, timezone)

    @property
    def summary(self) -> str:
        """The expression as written."""
        return self.expression

    @property
    def description(self) -> str:
        """The expression in words, or the expression itself when it is unusual."""
        return describe.describe_cron(self.expression)

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """The fire time after the last run's; without
        catchup, at least the latest one by ``now``."""
        now = datetime.now(UTC) if now is None else zones.coerce_utc(now)
        fire_times = self._fire_times
        candidates = []
        if last_automated_data_interval is not None:
            candidates.append(fire_times.next_after(last_automated_data_interval.end))
        if restriction.earliest is not None:
            candidates.append(fire_times.align_next(restriction.earliest))
        elif last_automated_data_interval is None:
            candidates.append(fire_times.align_next(now))
        if not restriction.catchup:
            candidates.append(fire_times.align_prev(now))
        fire = max(candidates)
        if restriction.latest is not None and fire > restriction.latest:
            return None
        return DagRunInfo(run_after=fire, data_interval=DataInterval(fire - self.interval, fire))

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """``[run_after - interval, run_after]``."""
        run_after = zones.coerce_utc(run_after)
        return DataInterval(run_after - self.interval, run_after)

    def serialize(self) -> dict[str, Any]:
        """``{"type": ..., "expression": ..., "timezone": ..., "interval": <seconds>}``."""
        return {
            "type": type(self).__name__,
            "expression": self.expression,
            "timezone": zones.timezone_name(self.timezone),
            "interval": self.interval.total_seconds(),
        }

    @classmethod
    def from_serialized(cls, data: Mapping[str, Any]) -> CronTriggerTimetable:
        """Inverse of ``serialize``."""
        return cls(
            data["expression"], data["timezone"], interval=timedelta(seconds=data["interval"])
        )


def _init_cron(timetable: Timetable, expression: str, timezone: tzinfo | str) -> None:
    """Validate and set the fields both cron timetables
    share (they are frozen: no plain assignment)."""
    cron = cron_expression.validate(expression)
    zone = zones.parse_timezone(timezone)
    object.__setattr__(timetable, "expression", expression)
    object.__setattr__(timetable, "timezone", zone)
    object.__setattr__(timetable, "_fire_times", CronFireTimes(cron, zone))
