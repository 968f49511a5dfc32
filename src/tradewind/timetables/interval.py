"""Schedules whose runs each cover the interval between
two boundaries: the shared rule, and timedelta.

A run covering ``[start, end)`` becomes due at ``end``, once its data is complete; its
logical date is ``start``. So ``@daily``'s run for 2024-01-01 covers that day and starts just
after midnight on the 2nd. Which boundaries exist is the subclass's business (cron fire
times, or start_date + k * delta); how runs follow one another is decided here, once.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tradewind.exceptions import DagDefinitionError
from tradewind.timetables import describe, zones
from tradewind.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable

__all__ = ["DataIntervalTimetable", "DeltaDataIntervalTimetable"]

# Delta schedules without a start_date are aligned to the Unix epoch, so hours start on the hour.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class DataIntervalTimetable(Timetable):
    """Runs cover consecutive intervals between boundaries and become due when an interval ends."""

    periodic = True

    @abc.abstractmethod
    def _get_next(self, current: datetime) -> datetime:
        """The first boundary strictly after ``current``."""

    @abc.abstractmethod
    def _get_prev(self, current: datetime) -> datetime:
        """The last boundary strictly before ``current``."""

    @abc.abstractmethod
    def _align_to_next(self, current: datetime) -> datetime:
        """``current`` if it is a boundary, else the next boundary."""

    @abc.abstractmethod
    def _align_to_prev(self, current: datetime) -> datetime:
        """``current`` if it is a boundary, else the previous boundary."""

    @abc.abstractmethod
    def _skip_to_latest(self, earliest: datetime | None, now: datetime) -> datetime:
        """Start of the latest interval complete by ``now``, but no interval before ``earliest``."""

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """The interval after the last one; without catchup,
        the latest complete one if that is later."""
        now = datetime.now(UTC) if now is None else zones.coerce_utc(now)
        earliest = restriction.earliest
        if not restriction.catchup:
            earliest = self._skip_to_latest(earliest, now)
        elif earliest is not None:
            earliest = self._align_to_next(earliest)
        if last_automated_data_interval is None:
            if earliest is None:
                return None  # nothing to anchor the first run to (no start_date, catchup)
            start = earliest
        else:
            # Re-aligning lets a DAG whose schedule changed continue on the new boundaries.
            last_end = self._align_to_prev(last_automated_data_interval.end)
            start = last_end if earliest is None else max(last_end, earliest)
        if restriction.latest is not None and start > restriction.latest:
            return None
        return DagRunInfo.interval(start, self._get_next(start))


@dataclass(frozen=True)
class DeltaDataIntervalTimetable(DataIntervalTimetable):
    """Runs every fixed ``delta`` (``schedule=timedelta(hours=2)``),
    on boundaries start_date + k * delta.

    Time is absolute: a 24-hour delta stays 24 hours across DST changes (use a cron for
    "same wall-clock time every day"). Unlike Airflow, the latest complete interval without
    catchup stays on the start_date grid instead of ending exactly at the current time, so
    runs do not depend on when the scheduler happened to look.
    """

    delta: timedelta

    def __post_init__(self) -> None:
        if not isinstance(self.delta, timedelta):
            raise DagDefinitionError(
                f"a delta schedule must be a datetime.timedelta, got {type(self.delta).__name__} "
                f"{self.delta!r}"
            )
        if self.delta <= timedelta(0):
            raise DagDefinitionError(f"a delta schedule must be positive, got {self.delta!r}")

    @property
    def summary(self) -> str:
        """``str(delta)``, as Airflow shows it: ``"2:00:00"``, ``"1 day, 0:00:00"``."""
        return str(self.delta)

    @property
    def description(self) -> str:
        """``"Every 2 hours"``."""
        return describe.describe_timedelta(self.delta)

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """The ``delta`` that ends at ``run_after``."""
        run_after = zones.coerce_utc(run_after)
        return DataInterval(run_after - self.delta, run_after)

    def serialize(self) -> dict[str, Any]:
        """``{"type": ..., "delta": <seconds>}``."""
        return {"type": type(self).__name__, "delta": self.delta.total_seconds()}

    @classmethod
    def from_serialized(cls, data: Mapping[str, Any]) -> DeltaDataIntervalTimetable:
        """Inverse of ``serialize``."""
        return cls(timedelta(seconds=data["delta"]))

    def _get_next(self, current: datetime) -> datetime:
        return current + self.delta

    def _get_prev(self, current: datetime) -> datetime:
        return current - self.delta

    def _align_to_next(self, current: datetime) -> datetime:
        return current

    def _align_to_prev(self, current: datetime) -> datetime:
        return current

    def _skip_to_latest(self, earliest: datetime | None, now: datetime) -> datetime:
        anchor = _EPOCH if earliest is None else earliest
        if now < anchor + self.delta:
            return anchor  # no interval is complete yet: the first one, due when it ends
        end = anchor + (now - anchor) // self.delta * self.delta
        return end - self.delta
