"""Schedules in words for the UI: "At 00:00, every day", "Every 5 minutes, Monday through Friday".

Covers the cron forms people actually write (fixed times, every n minutes or hours, weekday
and day-of-month lists); anything else is shown as the expression itself rather than risk a
wrong sentence. Written here instead of depending on cron-descriptor: DAG files import this.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from tradewind.timetables import cron_expression
from tradewind.timetables.cron_expression import CronField

__all__ = ["describe_cron", "describe_timedelta"]

_MAX_LISTED_TIMES = 6
_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def describe_cron(expression: str) -> str:
    """``expression`` (a valid cron or preset) in words, or the expression itself if unusual."""
    fields = cron_expression.parse_fields(cron_expression.to_cron(expression))
    if fields is None:
        return expression
    minute, hour, day_of_month, month, day_of_week = fields
    time = _describe_time(minute, hour)
    days = _describe_days(day_of_month, month, day_of_week)
    if time is None or days is None:
        return expression
    text, at_clock_times = time
    if days:
        return f"{text}, {days}"
    return f"{text}, every day" if at_clock_times else text


def describe_timedelta(delta: timedelta) -> str:
    """A fixed period in words: ``"Every 2 hours"``,
    ``"Every day"``, ``"Every 1 day and 12 hours"``."""
    if delta.microseconds:
        return f"Every {delta}"
    seconds = delta.seconds
    parts = [
        ("week", delta.days // 7 if delta.days % 7 == 0 else 0),
        ("day", delta.days if delta.days % 7 else 0),
        ("hour", seconds // 3600),
        ("minute", seconds // 60 % 60),
        ("second", seconds % 60),
    ]
    counted = [(unit, count) for unit, count in parts if count]
    if len(counted) == 1 and counted[0][1] == 1:
        return f"Every {counted[0][0]}"
    return "Every " + _join(
        [f"{count} {unit}{'s' if count > 1 else ''}" for unit, count in counted]
    )


def _describe_time(minute: CronField, hour: CronField) -> tuple[str, bool] | None:
    """The time-of-day part, and whether it names clock times (which then need "every day")."""
    if hour.every:
        if minute.every:
            return "Every minute", False
        if minute.step:
            return f"Every {minute.step} minutes", False
        if minute.values == (0,):
            return "Every hour", False
        return f"At {_minutes(minute.values)} past every hour", False
    if hour.step and len(minute.values) == 1 and not minute.every:
        if minute.values == (0,):
            return f"Every {hour.step} hours", False
        return f"At minute {minute.values[0]}, every {hour.step} hours", False
    if (
        not minute.every
        and not minute.step
        and len(minute.values) * len(hour.values) <= _MAX_LISTED_TIMES
    ):
        times = [f"{h:02d}:{m:02d}" for h in hour.values for m in minute.values]
        return "At " + _join(times), True
    span = _hour_span(hour.values)
    if span is None:
        return None
    first, last = span
    between = f"between {first:02d}:00 and {last:02d}:59"
    if minute.every:
        return f"Every minute, {between}", False
    if minute.step:
        return f"Every {minute.step} minutes, {between}", False
    if minute.values == (0,):
        return f"Every hour from {first:02d}:00 through {last:02d}:00", False
    return f"At {_minutes(minute.values)} past every hour, {between}", False


def _describe_days(day_of_month: CronField, month: CronField, day_of_week: CronField) -> str | None:
    """The calendar part: "" for every day, None when cron's day-of-month OR day-of-week applies."""
    if not day_of_month.every and not day_of_week.every:
        return None
    months = None if month.every else _join([_MONTH_NAMES[number - 1] for number in month.values])
    if not day_of_week.every:
        days = _weekdays(day_of_week.values)
        return f"{days} in {months}" if months else days
    if not day_of_month.every:
        noun = "day" if len(day_of_month.values) == 1 else "days"
        dates = f"on {noun} {_join([str(value) for value in day_of_month.values])}"
        return f"{dates} of {months}" if months else f"{dates} of every month"
    return f"every day in {months}" if months else ""


def _weekdays(values: Sequence[int]) -> str:
    if len(values) >= 3 and _contiguous(values):
        return f"{_DAY_NAMES[values[0]]} through {_DAY_NAMES[values[-1]]}"
    return "every " + _join([_DAY_NAMES[value] for value in values])


def _minutes(values: Sequence[int]) -> str:
    noun = "minute" if len(values) == 1 else "minutes"
    return f"{noun} {_join([str(value) for value in values])}"


def _hour_span(values: Sequence[int]) -> tuple[int, int] | None:
    return (values[0], values[-1]) if _contiguous(values) else None


def _contiguous(values: Sequence[int]) -> bool:
    return list(values) == list(range(values[0], values[-1] + 1))


def _join(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
