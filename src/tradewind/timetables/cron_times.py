"""When a cron expression fires, as UTC instants, read on the wall clock of a timezone.

Airflow's semantics: the expression is matched against local wall-clock time, so "0 2 * * *"
in Europe/Berlin fires at 02:00 Berlin time winter and summer alike. Two wall-clock oddities
need a rule:

* Spring forward (gap): a wall time that does not exist (02:30 on the night clocks jump from
  02:00 to 03:00) fires at the instant the clock would have shown it, i.e. shifted forward
  by the gap (03:30 summer time). A daily schedule still fires once that day.
* Fall back (overlap): a wall time that occurs twice fires on its first occurrence only, so a
  daily schedule fires once; but a schedule that fires every hour fires on both, because
  skipping the repeated hour would leave a two-hour hole (Airflow's "fold hour" fix).

croniter only does naive arithmetic here (it never sees the zone); the mapping to instants is
ours. Near a transition the next/previous fire time is found by searching a window of wall
times as wide as the offset change.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

__all__ = ["CronFireTimes"]

# Wider than any offset change that occurs in practice (one or two hours): an instant this far
# from every transition can use naive wall-clock arithmetic.
_WINDOW = timedelta(hours=3)
_TICK = timedelta(microseconds=1)


@functools.lru_cache(maxsize=1024)
def _parsed(cron: str) -> Any:
    """croniter's parse of ``cron``, shared: parsing is most of croniter's cost, and every
    deserialized DAG of a schedule would parse it again. Never used itself: each query works
    on a copy (``_walls_from``)."""
    from croniter import croniter

    return croniter(cron)


@dataclass(frozen=True)
class CronFireTimes:
    """The fire times of a five-field ``cron`` (already validated) in ``timezone``."""

    cron: str
    timezone: tzinfo
    _template: Any = field(init=False, repr=False, compare=False)
    _every_hour: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        template = _parsed(self.cron)
        object.__setattr__(self, "_template", template)
        object.__setattr__(self, "_every_hour", template.expanded[1] == ["*"])

    def next_after(self, instant: datetime) -> datetime:
        """The first fire time strictly after ``instant`` (aware), in UTC."""
        if not self._spread(instant):
            candidate = self._first_instant(
                self._walls_from(self._wall(instant)).get_next(datetime)
            )
            if candidate > instant and not self._spread(candidate):
                return candidate
        return self._search_next(instant)

    def prev_before(self, instant: datetime) -> datetime:
        """The last fire time strictly before ``instant`` (aware), in UTC."""
        if not self._spread(instant):
            candidate = self._first_instant(
                self._walls_from(self._wall(instant)).get_prev(datetime)
            )
            if candidate < instant and not self._spread(candidate):
                return candidate
        return self._search_prev(instant)

    def align_next(self, instant: datetime) -> datetime:
        """``instant`` if it is a fire time, else the next one."""
        return self.next_after(instant - _TICK)

    def align_prev(self, instant: datetime) -> datetime:
        """``instant`` if it is a fire time, else the previous one."""
        return self.prev_before(instant + _TICK)

    # Near a transition a wall time maps to an instant off by at most the offset change
    # (the spread), so searching wall times that far either side finds every candidate.

    def _search_next(self, instant: datetime) -> datetime:
        walls = self._walls_from(self._wall(instant) - self._spread(instant))
        best: datetime | None = None
        while True:
            wall = walls.get_next(datetime)
            if best is not None and wall > self._wall(best) + self._spread(best):
                return best
            for candidate in self._instants(wall):
                if candidate > instant and (best is None or candidate < best):
                    best = candidate

    def _search_prev(self, instant: datetime) -> datetime:
        walls = self._walls_from(self._wall(instant) + self._spread(instant))
        best: datetime | None = None
        while True:
            wall = walls.get_prev(datetime)
            if best is not None and wall < self._wall(best) - self._spread(best):
                return best
            for candidate in self._instants(wall):
                if candidate < instant and (best is None or candidate > best):
                    best = candidate

    def _instants(self, wall: datetime) -> list[datetime]:
        """The instants at which the wall time ``wall`` fires (none, one or, in an overlap, two)."""
        first = self._first_instant(wall)
        if not self._every_hour:
            return [first]
        second = wall.replace(tzinfo=self.timezone, fold=1).astimezone(UTC)
        # In a gap, fold=1 maps backwards to a different wall time: not a second firing.
        if second == first or self._wall(second) != wall:
            return [first]
        return [first, second]

    def _first_instant(self, wall: datetime) -> datetime:
        # fold=0: first occurrence in an overlap, shifted forward by the gap in a gap.
        return wall.replace(tzinfo=self.timezone, fold=0).astimezone(UTC)

    def _wall(self, instant: datetime) -> datetime:
        return instant.astimezone(self.timezone).replace(tzinfo=None, fold=0)

    def _walls_from(self, wall: datetime) -> Any:
        """A croniter iterator over wall times, starting (exclusively) at ``wall``."""
        walls = copy.copy(self._template)
        walls.set_current(wall, force=True)
        return walls

    def _spread(self, instant: datetime) -> timedelta:
        """How far the UTC offset moves within the window
        around ``instant``: zero away from DST changes."""
        offsets = [
            (instant + shift).astimezone(self.timezone).utcoffset() or timedelta(0)
            for shift in (-_WINDOW, timedelta(0), _WINDOW)
        ]
        return max(offsets) - min(offsets)
