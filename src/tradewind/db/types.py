"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, DateTime, String, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine


class NaiveDatetimeError(ValueError):
    """A naive datetime was about to be stored; its zone would be a guess."""


class UnknownStateError(ValueError):
    """A value that is not one of the column's states was about to be stored."""


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware datetime, stored in UTC, read back as an aware UTC datetime.

    SQLite has no time zone type, so values are stored there as naive UTC text; PostgreSQL
    stores ``timestamptz``. Naive datetimes are refused: guessing their zone silently shifts
    schedules, which is the bug this type exists to prevent.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise NaiveDatetimeError(
                f"naive datetime {value.isoformat()} cannot be stored: "
                "give it a time zone, e.g. value.replace(tzinfo=datetime.timezone.utc)"
            )
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class StrEnumType(TypeDecorator[str]):
    """A ``StrEnum`` member stored as its string value: a plain ``VARCHAR(length)``.

    Writes take a member or its value and refuse anything else, so a typo never reaches the
    table; reads return the member (a value no member has, written by something else, is
    returned as the plain string rather than breaking every page that lists it). Comparisons
    (``WHERE state = :s``, ``IN``) are not checked: filtering by an unknown state finds
    nothing, as before.
    """

    impl = String
    cache_ok = True

    def __init__(self, states: type[enum.StrEnum], length: int) -> None:
        super().__init__(length)
        self.states = states
        self.length = length
        self._members: dict[str, enum.StrEnum] = {member.value: member for member in states}

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        try:
            member = self._members.get(value)
        except TypeError:  # unhashable
            member = None
        if member is None:
            raise UnknownStateError(
                f"{value!r} is not a {self.states.__name__}: expected one of "
                f"{', '.join(self._members)}"
            )
        return member.value

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return self._members.get(value, value)

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        return _COMPARED_STATE


class _ComparedStateType(TypeDecorator[str]):
    """What a state column is compared with: members as their plain values, nothing refused."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return value.value if isinstance(value, enum.Enum) else value


_COMPARED_STATE = _ComparedStateType()


class _PostgresJsonb(TypeDecorator[Any]):
    """``JSONB``, named without importing SQLAlchemy's PostgreSQL dialect: that import costs
    every process ~25 ms, and on SQLite nothing uses it. On PostgreSQL the dialect is loaded
    already when a type is first compiled, and the column behaves as ``JSONB`` exactly."""

    impl = JSON
    cache_ok = True
    hashable = False  # as JSON's: values are dicts and lists

    def __init__(self) -> None:
        super().__init__(none_as_null=True)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        from sqlalchemy.dialects.postgresql import JSONB

        return dialect.type_descriptor(JSONB(none_as_null=True))


#: JSON document column: JSONB on PostgreSQL (comparable, so DISTINCT and GROUP BY work on
#: rows holding it), JSON text on SQLite. SQL NULL stands for Python ``None``.
Json = JSON(none_as_null=True).with_variant(_PostgresJsonb(), "postgresql")


def utcnow() -> dt.datetime:
    """The current time, aware and in UTC; the default of every timestamp column."""
    return dt.datetime.now(dt.UTC)
