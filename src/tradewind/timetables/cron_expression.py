"""Cron expressions as DAG authors write them: presets, fields, and what is wrong with a bad one.

croniter decides what is valid; this module adds Airflow's presets, insists on the five
classic fields, and turns croniter's terse "not acceptable" into a message naming the field.
It also parses the common field forms into values, which the describer reads.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from tradewind.exceptions import DagDefinitionError

__all__ = ["FIELD_NAMES", "PRESETS", "CronField", "parse_fields", "to_cron", "validate"]

PRESETS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
"""Airflow's cron presets (``@once`` and ``@continuous`` are not cron; see ``create_timetable``)."""

FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_ALIASES: tuple[dict[str, int], ...] = (
    {},
    {},
    {},
    {name: number for number, name in enumerate(_MONTHS, start=1)},
    {name: number for number, name in enumerate(_WEEKDAYS)},
)


@dataclass(frozen=True)
class CronField:
    """One field in its simple form: the values it matches, and how it was written."""

    values: tuple[int, ...]
    every: bool
    """Matches every value of the field (``*``, ``?``, ``*/1`` or the full range)."""
    step: int | None
    """``n`` when written ``*/n`` (n > 1): "every n minutes" rather than a list of values."""


class _Unsupported(Exception):  # noqa: N818 - internal signal, never escapes
    """The field uses syntax this parser does not model (``L``, ``W``, ``#``, ``H``)."""


def to_cron(expression: str) -> str:
    """The five-field cron form of ``expression``, expanding a preset such as ``@daily``."""
    text = expression.strip()
    if text.startswith("@"):
        try:
            return PRESETS[text]
        except KeyError:
            known = ", ".join(sorted(PRESETS))
            raise DagDefinitionError(
                f"invalid schedule {expression!r}: unknown preset; use one of {known}, @once, "
                "@continuous"
            ) from None
    return " ".join(text.split())


def validate(expression: str) -> str:
    """Check ``expression`` and return its five-field
    cron form; DagDefinitionError says what is wrong."""
    if not isinstance(expression, str):
        raise DagDefinitionError(
            f"cron expression must be a string, got {type(expression).__name__}"
        )
    return _validated(expression)


@functools.lru_cache(maxsize=1024)
def _validated(expression: str) -> str:
    """``validate`` of a string, remembered: every DAG deserialized with a schedule validates
    it again, and a valid expression stays valid (an invalid one raises, which is not kept)."""
    from croniter import CroniterBadDateError, CroniterError, croniter

    cron = to_cron(expression)
    fields = cron.split()
    if len(fields) != 5:
        raise DagDefinitionError(
            f"invalid cron expression {expression!r}: expected 5 fields "
            f"(minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    try:
        schedule = croniter(cron)
    except CroniterError as exc:
        raise DagDefinitionError(
            f"invalid cron expression {expression!r}: {_explain(fields) or exc}"
        ) from exc
    try:
        schedule.get_next(datetime, start_time=datetime(2000, 1, 1))
    except CroniterBadDateError as exc:
        raise DagDefinitionError(
            f"invalid cron expression {expression!r}: no date ever matches it"
        ) from exc
    return cron


def parse_fields(cron: str) -> tuple[CronField, ...] | None:
    """The five fields of a valid cron, or None if one uses
    syntax beyond numbers, names, ranges, steps and lists."""
    try:
        return tuple(_parse_field(text, index) for index, text in enumerate(cron.split()))
    except (_Unsupported, ValueError):
        return None


def _explain(fields: list[str]) -> str | None:
    """What is wrong with the first bad field, in words, if the parser can tell."""
    for index, text in enumerate(fields):
        try:
            _parse_field(text, index)
        except ValueError as exc:
            return f"{FIELD_NAMES[index]} field {text!r}: {exc}"
        except _Unsupported:
            continue
    return None


def _parse_field(text: str, index: int) -> CronField:
    low, high = _BOUNDS[index]
    if text == "*" or (text == "?" and index in (2, 4)):
        return _field(tuple(range(low, high + 1)), index, every=True, step=None)
    values: set[int] = set()
    step_of_star: int | None = None
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        step = _number(step_text, "step") if slash else 1
        if slash and step < 1:
            raise ValueError(f"step {step_text!r} must be at least 1")
        if base == "*":
            first, last = low, high
            if slash and len(text.split(",")) == 1:
                step_of_star = step
        elif "-" in base:
            first_text, _, last_text = base.partition("-")
            first, last = _value(first_text, index), _value(last_text, index)
            if first > last:
                raise _Unsupported  # croniter's wrap-around ranges ("FRI-MON") are left to it
        else:
            first = _value(base, index)
            last = high if slash else first
        values.update(range(first, last + 1, step))
    return _field(tuple(sorted(values)), index, every=False, step=step_of_star)


def _field(values: tuple[int, ...], index: int, *, every: bool, step: int | None) -> CronField:
    if index == 4:  # day of week: 7 is another Sunday
        values = tuple(sorted({0 if value == 7 else value for value in values}))
        full = tuple(range(0, 7))
    else:
        low, high = _BOUNDS[index]
        full = tuple(range(low, high + 1))
    every = every or values == full
    return CronField(values=values, every=every, step=None if every or step == 1 else step)


def _value(text: str, index: int) -> int:
    alias = _ALIASES[index].get(text.lower())
    if alias is not None:
        return alias
    value = _number(text, "value")
    low, high = _BOUNDS[index]
    if not low <= value <= high:
        raise ValueError(f"{value} is out of range {low}-{high}")
    return value


def _number(text: str, what: str) -> int:
    if text.isdigit():
        return int(text)
    if any(marker in text.upper() for marker in ("L", "W", "#", "H")):
        raise _Unsupported
    raise ValueError(f"{what} {text!r} is not a number")
