"""Time helpers: everything inside Tradewind is timezone-aware UTC.

Naive datetimes written in DAG files are taken in ``[core] default_timezone`` (UTC unless set;
documented in the README), never in the machine's local zone, so a DAG means the same thing on
every machine.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tradewind.exceptions import DagDefinitionError

__all__ = ["UTC", "coerce_utc", "make_aware", "parse", "parse_timezone", "utcnow"]


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def make_aware(value: datetime, zone: tzinfo = UTC) -> datetime:
    """Attach ``zone`` to a naive datetime; leave an aware one as it is."""
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


@overload
def coerce_utc(value: datetime | date, naive_zone: tzinfo = ...) -> datetime: ...
@overload
def coerce_utc(value: None, naive_zone: tzinfo = ...) -> None: ...
@overload
def coerce_utc(value: datetime | date | None, naive_zone: tzinfo = ...) -> datetime | None: ...
def coerce_utc(value: datetime | date | None, naive_zone: tzinfo = UTC) -> datetime | None:
    """A datetime in UTC; naive values are taken in ``naive_zone``, dates as their midnight
    there."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return make_aware(value, naive_zone).astimezone(UTC)


def parse(text: str) -> datetime:
    """Parse an ISO 8601 date or datetime (``2024-01-01``, ``2024-01-01T03:00:00+09:00``) to UTC."""
    raw = text.strip()
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date or datetime: {text!r}") from None
    return coerce_utc(value)


def parse_timezone(name: str | tzinfo) -> tzinfo:
    """A tzinfo from a zone name such as ``Asia/Seoul`` (``UTC`` is the stdlib UTC)."""
    if not isinstance(name, str):
        return name
    if name.upper() in {"UTC", "Z", "ETC/UTC"}:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DagDefinitionError(f"unknown timezone {name!r}") from None


def timezone_name(zone: tzinfo) -> str:
    """The IANA name of a zone, for serialization."""
    if zone is UTC:
        return "UTC"
    key = getattr(zone, "key", None)
    if key:
        return key
    offset = zone.utcoffset(None) or timedelta(0)
    if offset == timedelta(0):
        return "UTC"
    raise DagDefinitionError(
        f"timezone {zone!r} has no IANA name; use zoneinfo.ZoneInfo('Area/City')"
    )
