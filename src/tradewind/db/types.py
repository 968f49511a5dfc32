"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, TypeDecorator
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect


class NaiveDatetimeError(ValueError):
    """A naive datetime was about to be stored; its zone would be a guess."""


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


#: JSON document column: JSONB on PostgreSQL (comparable, so DISTINCT and GROUP BY work on
#: rows holding it), JSON text on SQLite. SQL NULL stands for Python ``None``.
Json = JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def utcnow() -> dt.datetime:
    """The current time, aware and in UTC; the default of every timestamp column."""
    return dt.datetime.now(dt.UTC)
