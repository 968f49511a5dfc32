"""``WeekDay``: days of the week as Airflow names them, for sensors and branches on the day."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from tradewind.exceptions import DagDefinitionError


class WeekDay(enum.IntEnum):
    """Days of the week, ISO numbered (Monday is 1)."""

    MONDAY = 1
    TUESDAY = 2
    WEDNESDAY = 3
    THURSDAY = 4
    FRIDAY = 5
    SATURDAY = 6
    SUNDAY = 7

    @classmethod
    def get_weekday_number(cls, week_day_str: str) -> int:
        """The number of a day named in any case (``"monday"`` is 1)."""
        try:
            return int(cls[week_day_str.strip().upper()])
        except KeyError:
            raise DagDefinitionError(f"{week_day_str!r} is not a day of the week") from None

    @classmethod
    def convert(cls, day: str | WeekDay) -> int:
        return int(day) if isinstance(day, WeekDay) else cls.get_weekday_number(day)

    @classmethod
    def validate_week_day(cls, week_day: str | WeekDay | Iterable[str | WeekDay]) -> set[int]:
        """The day numbers of one day or of several."""
        if isinstance(week_day, str | WeekDay):
            return {cls.convert(week_day)}
        days = {cls.convert(day) for day in week_day}
        if not days:
            raise DagDefinitionError("week_day names no day")
        return days
