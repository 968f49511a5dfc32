"""Timezones as timetables take them, name them when stored, and convert instants to UTC.

Timetables speak UTC at their edges; only cron schedules look at a zone, to read the wall
clock the expression was written for. This module keeps the package free of imports beyond
the standard library (DAG files import timetables, so they must stay light).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tradewind.exceptions import DagDefinitionError

__all__ = ["UTC", "coerce_utc", "parse_timezone", "timezone_name"]

_UTC_NAMES = frozenset(
    {"UTC", "Z", "ETC/UTC", "ETC/UCT", "UCT", "ZULU", "ETC/ZULU", "GMT", "ETC/GMT"}
)
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


def coerce_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime; a naive one is taken to be UTC already."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__} {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_timezone(value: tzinfo | str) -> tzinfo:
    """A tzinfo from a zone name (``"Europe/Berlin"``, ``"UTC"``, ``"+09:00"``) or a tzinfo.

    Every spelling of UTC becomes ``datetime.UTC`` so that equal schedules compare equal.
    Zones from other libraries that carry an IANA name (pendulum, pytz) are accepted by name.
    """
    if isinstance(value, str):
        return _zone_from_name(value)
    if value is UTC:
        return UTC
    if isinstance(value, ZoneInfo):
        if value.key is None:
            raise DagDefinitionError(
                "timezone loaded from a file has no IANA name to store; use "
                "zoneinfo.ZoneInfo('Area/City')"
            )
        return _zone_from_name(value.key)
    if isinstance(value, timezone):
        return UTC if value.utcoffset(None) == timedelta(0) else value
    name = getattr(value, "key", None) or getattr(value, "zone", None)
    if isinstance(name, str):
        return _zone_from_name(name)
    raise DagDefinitionError(
        f"timezone must be a zone name such as 'Europe/Berlin', a zoneinfo.ZoneInfo or a "
        f"datetime.timezone; got {type(value).__name__} {value!r}"
    )


def timezone_name(zone: tzinfo) -> str:
    """The name that ``parse_timezone`` turns back
    into ``zone``: IANA key, ``UTC`` or ``+HH:MM``."""
    if zone is UTC:
        return "UTC"
    if isinstance(zone, ZoneInfo) and zone.key is not None:
        return zone.key
    if isinstance(zone, timezone):
        offset = zone.utcoffset(None)
        sign = "-" if offset < timedelta(0) else "+"
        minutes = abs(offset) // timedelta(minutes=1)
        return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    raise DagDefinitionError(f"timezone {zone!r} has no name that can be stored")


def _zone_from_name(name: str) -> tzinfo:
    text = name.strip()
    if text.upper() in _UTC_NAMES:
        return UTC
    match = _OFFSET.fullmatch(text)
    if match:
        sign, hours, minutes = match.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes))
        if offset >= timedelta(hours=24):
            raise DagDefinitionError(f"timezone offset {name!r} is out of range")
        return UTC if not offset else timezone(-offset if sign == "-" else offset)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise DagDefinitionError(
            f"unknown timezone {name!r}: not an IANA zone name such as 'Europe/Berlin'"
        ) from None
