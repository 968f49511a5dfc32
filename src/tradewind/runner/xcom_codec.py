"""XCom values as JSON text, keeping the types pipelines pass around most.

Values must survive a trip through the metastore, so they are encoded as JSON; datetimes,
dates, timedeltas, tuples, sets and bytes are tagged so they come back as the same type.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, timedelta
from typing import Any

from tradewind.exceptions import TradewindError

_TAG = "__tw_type__"
#: Largest XCom value, in bytes of its JSON text: XCom carries small results between tasks;
#: larger data belongs in files or object storage, with a reference in XCom.
MAX_VALUE_BYTES = 16 * 1024 * 1024


class XComValueError(TradewindError):
    """An XCom value cannot be stored."""


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, timedelta):
        return {_TAG: "timedelta", "v": value.total_seconds()}
    if isinstance(value, tuple):
        return {_TAG: "tuple", "v": [_encode(item) for item in value]}
    if isinstance(value, (set, frozenset)):
        return {_TAG: "set", "v": [_encode(item) for item in value]}
    if isinstance(value, bytes):
        return {_TAG: "bytes", "v": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise XComValueError(f"XCom dict keys must be strings, got {list(value)[:5]!r}")
        return {key: _encode(item) for key, item in value.items()}
    raise XComValueError(
        f"cannot store a value of type {type(value).__name__} in XCom; return JSON-like data "
        "(str, int, float, bool, None, list, dict, datetime, ...)"
    )


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if isinstance(value, dict):
        tag = value.get(_TAG)
        if tag is None:
            return {key: _decode(item) for key, item in value.items()}
        raw = value["v"]
        if tag == "datetime":
            return datetime.fromisoformat(raw)
        if tag == "date":
            return date.fromisoformat(raw)
        if tag == "timedelta":
            return timedelta(seconds=raw)
        if tag == "tuple":
            return tuple(_decode(item) for item in raw)
        if tag == "set":
            return {_decode(item) for item in raw}
        if tag == "bytes":
            return base64.b64decode(raw)
    return value


def encode(value: Any, *, key: str | None = None) -> str:
    """JSON text of an XCom value; raises ``XComValueError`` for unsupported types and for a
    value over ``MAX_VALUE_BYTES`` (``key`` names it in the message)."""
    text = json.dumps(_encode(value), separators=(",", ":"), allow_nan=True)
    if (
        len(text) > MAX_VALUE_BYTES // 4
        and len(text.encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES
    ):
        size = len(text.encode("utf-8", "surrogatepass")) / 2**20
        raise XComValueError(
            f"XCom value{f' of key {key!r}' if key is not None else ''} is {size:.1f} MiB as JSON, "
            f"over the limit of {MAX_VALUE_BYTES // 2**20} MiB: pass large data through files or "
            "object storage and push a reference"
        )
    return text


def decode(text: str) -> Any:
    return _decode(json.loads(text))
