"""``airflow.utils.timezone`` / ``airflow.sdk.timezone`` as DAG files use them: aware datetimes
in UTC (or a zone), now, parsing and conversion, on Tradewind's own time helpers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tradewind.sdk import timezone as _timezone

utc = dt.UTC


def datetime(*args: Any, tzinfo: dt.tzinfo | str | None = None, **kwargs: Any) -> dt.datetime:
    """``datetime(2024, 1, 1)`` aware: in ``tzinfo`` (a zone or its name), UTC by default."""
    zone = _timezone.parse_timezone(tzinfo) if tzinfo is not None else utc
    return dt.datetime(*args, **kwargs).replace(tzinfo=zone)


def utcnow() -> dt.datetime:
    return _timezone.utcnow()


def parse(text: str, timezone: dt.tzinfo | str | None = None) -> dt.datetime:
    """An ISO 8601 text as an aware datetime (a naive one in ``timezone``, UTC by default)."""
    value = dt.datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        zone = _timezone.parse_timezone(timezone) if timezone is not None else utc
        value = value.replace(tzinfo=zone)
    return value


def make_aware(value: dt.datetime, timezone: dt.tzinfo | None = None) -> dt.datetime:
    return _timezone.make_aware(value, timezone or utc)


def convert_to_utc(value: dt.datetime) -> dt.datetime:
    return _timezone.coerce_utc(value)


def is_localized(value: dt.datetime) -> bool:
    return value.utcoffset() is not None


def is_naive(value: dt.datetime) -> bool:
    return value.utcoffset() is None
