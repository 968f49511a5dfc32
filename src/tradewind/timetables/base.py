"""The timetable contract: what a schedule tells the scheduler, and the values it speaks in.

A timetable answers two questions for the scheduler: "what is the next automated run, given
the last one?" (``next_dagrun_info``) and "what data does a manual run at this time cover?"
(``infer_manual_data_interval``). It is a pure value: no clock of its own (``now`` is passed
in), no database, so a DAG file can build one cheaply and the scheduler can rebuild it from
its serialized form.

All datetimes going in and out are timezone-aware UTC; naive ones are taken as UTC.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from tradewind.exceptions import DagDefinitionError
from tradewind.timetables import zones

__all__ = ["DagRunInfo", "DataInterval", "TimeRestriction", "Timetable", "deserialize"]

# Every Timetable subclass, by class name, so a stored schedule can be rebuilt.
_REGISTRY: dict[str, type[Timetable]] = {}


@dataclass(frozen=True)
class DataInterval:
    """The span of data a DAG run covers: ``start`` inclusive, ``end`` exclusive."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", zones.coerce_utc(self.start))
        object.__setattr__(self, "end", zones.coerce_utc(self.end))
        if self.end < self.start:
            raise ValueError(f"data interval ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def exact(cls, at: datetime) -> DataInterval:
        """A zero-length interval, for runs that stand for one instant (``@once``, manual)."""
        return cls(at, at)


@dataclass(frozen=True)
class TimeRestriction:
    """What the DAG allows: no run before ``earliest`` (start_date) or after ``latest`` (end_date).

    ``catchup`` says whether runs for intervals that ended long ago are still created one by
    one (True) or skipped in favour of the most recent one (False).
    """

    earliest: datetime | None
    latest: datetime | None
    catchup: bool

    def __post_init__(self) -> None:
        if self.earliest is not None:
            object.__setattr__(self, "earliest", zones.coerce_utc(self.earliest))
        if self.latest is not None:
            object.__setattr__(self, "latest", zones.coerce_utc(self.latest))


@dataclass(frozen=True)
class DagRunInfo:
    """One run the schedule asks for: when it may start and the data it covers."""

    run_after: datetime
    data_interval: DataInterval

    def __post_init__(self) -> None:
        object.__setattr__(self, "run_after", zones.coerce_utc(self.run_after))

    @property
    def logical_date(self) -> datetime:
        """The run's logical date (Airflow's ``logical_date``): the start of its data interval."""
        return self.data_interval.start

    @classmethod
    def exact(cls, at: datetime) -> DagRunInfo:
        """A run at ``at`` that covers the instant ``at``."""
        return cls(run_after=at, data_interval=DataInterval.exact(at))

    @classmethod
    def interval(cls, start: datetime, end: datetime) -> DagRunInfo:
        """A run covering ``[start, end)``, due once the interval is over (at ``end``)."""
        return cls(run_after=end, data_interval=DataInterval(start, end))


class Timetable(abc.ABC):
    """How a DAG is scheduled. Subclasses are frozen values, equal when they schedule alike."""

    can_be_scheduled: ClassVar[bool] = True
    """False when the scheduler never creates runs on its own (``schedule=None``)."""

    periodic: ClassVar[bool] = False
    """True when runs recur on a regular pattern, so backfill over a range makes sense."""

    active_runs_limit: ClassVar[int | None] = None
    """A cap on concurrent runs the schedule itself needs (``@continuous``: one), if any."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    @property
    @abc.abstractmethod
    def summary(self) -> str:
        """The schedule as the DAG author wrote it: ``"@daily"``, ``"0 3 * * *"``, ``"None"``."""

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """The schedule in words for people: ``"At 00:00, every day"``, ``"Every 2 hours"``."""

    @abc.abstractmethod
    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """The next automated run after the one that covered ``last_automated_data_interval``.

        ``None`` for the last argument means no automated run exists yet. Returns ``None`` when
        no further run is due ever (end_date passed, ``@once`` done, manual-only schedule). The
        returned ``run_after`` may lie in the future: the scheduler creates the run when it is
        reached. ``now`` defaults to the current UTC time; tests pass it.
        """

    @abc.abstractmethod
    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """The data interval of a run triggered by hand at ``run_after``."""

    @abc.abstractmethod
    def serialize(self) -> dict[str, Any]:
        """A JSON-ready dict that ``deserialize`` turns back into an equal timetable."""

    @classmethod
    def from_serialized(cls, data: Mapping[str, Any]) -> Timetable:
        """Rebuild from ``serialize()`` output; parameterless timetables need not override it."""
        return cls()

    def iter_intervals(self, start: datetime, end: datetime) -> Iterator[DagRunInfo]:
        """Every run whose logical date lies in ``[start,
        end]``, in order (what a backfill creates).

        Runs are aligned to the schedule, not to ``start``: a daily cron from 10:00 on the 1st
        yields the run of the 2nd first. Callers clamp ``start`` to the DAG's start_date.
        """
        start, end = zones.coerce_utc(start), zones.coerce_utc(end)
        restriction = TimeRestriction(earliest=start, latest=end, catchup=True)
        info = self.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
        previous: DagRunInfo | None = None
        while info is not None and info.logical_date <= end:
            if previous is not None and info.logical_date <= previous.logical_date:
                break  # a schedule that does not move forward would otherwise loop forever
            if info.logical_date >= start:
                yield info
            previous = info
            info = self.next_dagrun_info(
                last_automated_data_interval=info.data_interval, restriction=restriction
            )


def deserialize(data: Mapping[str, Any]) -> Timetable:
    """The timetable a ``Timetable.serialize()`` dict describes."""
    type_name = data.get("type") if isinstance(data, Mapping) else None
    cls = _REGISTRY.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise DagDefinitionError(f"cannot deserialize timetable: unknown type in {data!r}")
    try:
        return cls.from_serialized(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise DagDefinitionError(f"cannot deserialize {type_name}: {exc!r} in {data!r}") from exc
