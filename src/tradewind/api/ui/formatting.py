"""How the UI writes times, durations and states:
Airflow's state colours, times in a chosen zone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

#: Airflow's default state colours (``STATE_COLORS``), so a glance reads the same.
STATE_COLORS: dict[str, str] = {
    "success": "green",
    "running": "lime",
    "failed": "red",
    "queued": "gray",
    "up_for_retry": "gold",
    "up_for_reschedule": "turquoise",
    "upstream_failed": "orange",
    "skipped": "hotpink",
    "scheduled": "tan",
    "removed": "lightgrey",
    "restarting": "violet",
    "deferred": "mediumpurple",
}

#: Run states in which a page keeps polling for changes.
ACTIVE_RUN_STATES = frozenset({"queued", "running"})


def zone_named(name: str | None, default: str = "UTC") -> tzinfo:
    """A tzinfo for an IANA name, falling back to ``default`` (then UTC) when it is unknown."""
    for candidate in (name, default):
        if not candidate:
            continue
        if candidate.upper() == "UTC":
            return UTC
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return UTC


def zone_name(zone: tzinfo) -> str:
    return "UTC" if zone is UTC else str(getattr(zone, "key", zone))


def is_zone(name: str) -> bool:
    return name.upper() == "UTC" or name in _zones()


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


def fmt_datetime(value: datetime | None, zone: tzinfo, *, seconds: bool = True) -> str:
    """``2024-03-01 09:00:00 KST``; ``-`` for nothing. (Hot: called for every time on a page.)"""
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone)
    name = local.tzname() or zone_name(zone)
    if seconds:
        return (
            f"{local.year:04d}-{local.month:02d}-{local.day:02d} "
            f"{local.hour:02d}:{local.minute:02d}:{local.second:02d} {name}"
        )
    return (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d} "
        f"{local.hour:02d}:{local.minute:02d} {name}"
    )


def zone_label(zone: tzinfo, now: datetime | None = None) -> str:
    """``Asia/Seoul (UTC+09:00)``."""
    now = now or datetime.now(UTC)
    offset = now.astimezone(zone).utcoffset() or timedelta(0)
    total = int(offset.total_seconds() // 60)
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total), 60)
    return f"{zone_name(zone)} (UTC{sign}{hours:02d}:{minutes:02d})"


def zone_abbreviation(zone: tzinfo, now: datetime | None = None) -> str:
    """``KST``, ``CET``, ``UTC``; the zone name when the zone has no abbreviation (``+04``)."""
    abbreviation = (now or datetime.now(UTC)).astimezone(zone).strftime("%Z")
    if not abbreviation or abbreviation[0] in "+-":
        return zone_name(zone)
    return abbreviation


def fmt_duration(seconds: float | timedelta | None) -> str:
    """``0.42s``, ``12s``, ``3m 04s``, ``2h 05m``, ``3d 04h``."""
    if seconds is None:
        return "-"
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    if seconds < 0:
        seconds = 0.0
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def pretty_json(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)
