"""Schedules without a period: never (``None``), once (``@once``), back to back (``@continuous``).

Their runs stand for an instant rather than a span of data, so a manual run's data interval
is the zero-length interval at the moment it was triggered.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tradewind.timetables import zones
from tradewind.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable

__all__ = ["ContinuousTimetable", "NullTimetable", "OnceTimetable"]


class _InstantTimetable(Timetable):
    """Shared parts of the timetables whose runs have no data span of their own."""

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """The instant ``run_after``."""
        return DataInterval.exact(run_after)

    def serialize(self) -> dict[str, Any]:
        """``{"type": <class name>}``: there are no parameters."""
        return {"type": type(self).__name__}


@dataclass(frozen=True)
class NullTimetable(_InstantTimetable):
    """``schedule=None``: the scheduler never creates runs; they are triggered by hand or by API."""

    can_be_scheduled = False

    @property
    def summary(self) -> str:
        """``"None"``, as Airflow shows it."""
        return "None"

    @property
    def description(self) -> str:
        """Says runs only come from triggers."""
        return "Never, manually triggered only"

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """Always None."""
        return None


@dataclass(frozen=True)
class OnceTimetable(_InstantTimetable):
    """``@once``: one run, at start_date, whatever catchup says; then never again."""

    @property
    def summary(self) -> str:
        """``"@once"``."""
        return "@once"

    @property
    def description(self) -> str:
        """``"Once"``."""
        return "Once"

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """The run at start_date if there has been none (and start_date is not past end_date)."""
        if last_automated_data_interval is not None or restriction.earliest is None:
            return None
        if restriction.latest is not None and restriction.earliest > restriction.latest:
            return None
        return DagRunInfo.exact(restriction.earliest)


@dataclass(frozen=True)
class ContinuousTimetable(_InstantTimetable):
    """``@continuous``: a new run as soon as the previous one is created, one at a time.

    Each run covers the time since the previous run's interval ended. The DAG must allow a
    single active run (``active_runs_limit``), or runs would pile up without bound.
    """

    active_runs_limit = 1

    @property
    def summary(self) -> str:
        """``"@continuous"``."""
        return "@continuous"

    @property
    def description(self) -> str:
        """Airflow's wording."""
        return "As frequently as possible, but only one run at a time."

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """A run from the end of the last one (or start_date) up to ``now``, due at once."""
        if restriction.earliest is None:
            return None
        now = datetime.now(UTC) if now is None else zones.coerce_utc(now)
        if last_automated_data_interval is None:
            start, end = restriction.earliest, max(restriction.earliest, now)
        elif last_automated_data_interval.end > now:
            # The last run lies ahead of the clock (start_date in the future): start there again.
            start = restriction.earliest
            end = start + (last_automated_data_interval.end - last_automated_data_interval.start)
        else:
            start, end = last_automated_data_interval.end, now
        if restriction.latest is not None and end > restriction.latest:
            return None
        return DagRunInfo.interval(start, end)

    def iter_intervals(self, start: datetime, end: datetime) -> Iterator[DagRunInfo]:
        """Nothing: runs of a continuous DAG depend on
        when each one ends, so none can be backfilled."""
        return iter(())
