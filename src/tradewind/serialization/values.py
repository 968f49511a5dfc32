"""Arbitrary Python values from DAG files as JSON, and back.

JSON scalars, lists and dicts with string keys are stored as they are. Every other value is
stored tagged, as ``{"__type": <kind>, "__var": <payload>}``:

========== =========================================== ======================================
kind       payload                                     read back as
========== =========================================== ======================================
datetime   ISO 8601 text (offset kept)                 ``datetime``
date       ISO 8601 date                               ``date``
timedelta  seconds                                     ``timedelta``
float      ``"nan"``, ``"inf"`` or ``"-inf"``          ``float``
tuple      list                                        ``tuple``
set        list sorted by canonical JSON text          ``set`` (``frozenset``: kind frozenset)
dict       ``[[key, value], ...]`` in insertion order  ``dict``: for non-string keys, a key
                                                       named ``__type``, or order that matters
xcomarg    ``{"task_id", "key"}``                      ``XComArg`` of the deserialized task
dag_param  param name                                  ``DagParam``
param      ``{"default"?, "description", "schema"}``   ``Param``
repr       ``{"type": module.QualName, "repr": text}`` ``ReprValue`` (see below)
========== =========================================== ======================================

Anything else (callables, custom objects, bytes, paths, ...) has no faithful JSON form: it is
kept as its type and ``repr`` (memory addresses removed, functions named by module and
qualified name, so the text is the same in every process) and read back as a ``ReprValue``,
which displays as that text and serializes to the same tagged form again. Enum members are
stored as their value. Key order of plain dicts is not part of the canonical text
(``dumps`` sorts keys); callers that need the order (a dict mapped over by ``expand``) ask
for ``ordered=True``.
"""

from __future__ import annotations

import enum
import json
import math
import re
import types
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tradewind.sdk.param import NOTSET, DagParam, Param
from tradewind.sdk.xcom_arg import XComArg
from tradewind.serialization.errors import SerializationError

if TYPE_CHECKING:
    from tradewind.sdk.task_node import TaskNode

TYPE_KEY = "__type"
VALUE_KEY = "__var"

#: Finds the deserialized task an ``xcomarg`` refers to.
TaskLookup = Callable[[str], "TaskNode"]

_ADDRESS = re.compile(r"\s+at\s+0x[0-9a-fA-F]+")
# The DAG file importer names a file's module ``tradewind_dag_<stem>_<hash of its absolute path>``;
# keeping only the stem means moving the DAGs folder does not change every stored DAG's hash.
_DAG_MODULE = re.compile(r"\btradewind_dag_(\w+)_[0-9a-f]{12}\b")


class ReprValue:
    """A value of a DAG file that has no JSON form, kept as its type name and ``repr`` text.

    It stands in for the value in a deserialized DAG: ``str()``/``repr()`` give the original
    ``repr`` (for the UI), and serializing it again gives the same JSON.
    """

    __slots__ = ("text", "type_name")

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text

    @classmethod
    def of(cls, value: Any) -> ReprValue:
        return cls(type_name(value), describe(value))

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReprValue) and (other.type_name, other.text) == (
            self.type_name,
            self.text,
        )

    def __hash__(self) -> int:
        return hash((self.type_name, self.text))


def type_name(value: Any) -> str:
    kind = type(value)
    return _DAG_MODULE.sub(r"\1", f"{kind.__module__}.{kind.__qualname__}")


def describe(value: Any) -> str:
    """``repr(value)`` made the same in every process and DAGs folder: no memory addresses."""
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
        module = getattr(value, "__module__", None)
        name = getattr(value, "__qualname__", None) or getattr(value, "__name__", "?")
        kind = "class" if isinstance(value, type) else "function"
        return _DAG_MODULE.sub(r"\1", f"<{kind} {module}.{name}>" if module else f"<{kind} {name}>")
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break serialization of the DAG
        text = f"<{type(value).__qualname__} (repr failed: {type(exc).__name__})>"
    return _DAG_MODULE.sub(r"\1", _ADDRESS.sub("", text))


def seconds(value: timedelta) -> int | float:
    """A timedelta as seconds: an int when whole, so the JSON reads ``300`` and not ``300.0``."""
    if value.microseconds == 0:
        return value.days * 86400 + value.seconds
    return value.total_seconds()


def number(value: float) -> int | float:
    """A number of seconds as stored: an int when whole."""
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


def to_timedelta(value: Any) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SerializationError(f"expected a number of seconds, got {value!r}")
    return timedelta(seconds=value)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def to_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise SerializationError(f"expected an ISO 8601 datetime, got {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise SerializationError(f"expected an ISO 8601 datetime, got {value!r}") from None


def canonical(data: Any) -> str:
    """The canonical JSON text of already encoded data (the form ``dumps`` writes).

    ASCII only: a lone surrogate in a DAG file's string still gives text that encodes to UTF-8.
    """
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def _tag(kind: str, payload: Any) -> dict[str, Any]:
    return {TYPE_KEY: kind, VALUE_KEY: payload}


def encode_param(param: Param) -> dict[str, Any]:
    data: dict[str, Any] = {
        "description": param.description,
        "schema": encode_value(dict(param.schema)),
    }
    if param.has_value:
        data["default"] = encode_value(param.value)
    return data


def decode_param(data: Mapping[str, Any], lookup: TaskLookup | None = None) -> Param:
    schema = decode_value(data.get("schema") or {}, lookup)
    default = decode_value(data["default"], lookup) if "default" in data else NOTSET
    return Param(default, description=data.get("description"), **schema)


def encode_value(value: Any, *, ordered: bool = False) -> Any:
    """``value`` as JSON-compatible data (see the module docstring for the forms)."""
    return _encode(value, ordered, set())


def _encode(value: Any, ordered: bool, active: set[int]) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, enum.Enum):
        return _encode(value.value, ordered, active)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        return _tag("float", "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, datetime):
        return _tag("datetime", value.isoformat())
    if isinstance(value, date):
        return _tag("date", value.isoformat())
    if isinstance(value, timedelta):
        return _tag("timedelta", seconds(value))
    if isinstance(value, XComArg):
        return _tag("xcomarg", {"task_id": value.operator.task_id, "key": value.key})
    if isinstance(value, DagParam):
        return _tag("dag_param", value.name)
    if isinstance(value, Param):
        return _tag("param", encode_param(value))
    if isinstance(value, ReprValue):
        return _tag("repr", {"type": value.type_name, "repr": value.text})
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        if id(value) in active:  # a container that contains itself
            return _tag("repr", {"type": type_name(value), "repr": "<recursive>"})
        active.add(id(value))
        try:
            return _encode_container(value, ordered, active)
        finally:
            active.discard(id(value))
    return _encode(ReprValue.of(value), ordered, active)


def _encode_container(value: Any, ordered: bool, active: set[int]) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        plain = all(type(key) is str for key in keys) and TYPE_KEY not in value
        if plain and (not ordered or keys == sorted(keys)):
            return {key: _encode(item, False, active) for key, item in value.items()}
        return _tag(
            "dict",
            [
                [_encode(key, False, active), _encode(item, False, active)]
                for key, item in value.items()
            ],
        )
    items = [_encode(item, False, active) for item in value]
    if isinstance(value, list):
        return items
    if isinstance(value, tuple):
        return _tag("tuple", items)
    # Set order depends on the hash seed: sort by canonical text so every process agrees.
    return _tag(
        "frozenset" if isinstance(value, frozenset) else "set", sorted(items, key=canonical)
    )


def decode_value(data: Any, lookup: TaskLookup | None = None) -> Any:
    """The Python value ``encode_value`` produced ``data`` from; ``lookup`` resolves XComArgs."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode_value(item, lookup) for item in data]
    if not isinstance(data, dict):
        raise SerializationError(f"not JSON data: {type(data).__name__} {data!r}")
    if TYPE_KEY not in data:
        return {key: decode_value(item, lookup) for key, item in data.items()}
    return _decode_tagged(data.get(TYPE_KEY), data.get(VALUE_KEY), lookup)


def _decode_tagged(kind: Any, payload: Any, lookup: TaskLookup | None) -> Any:
    if kind == "datetime":
        return to_datetime(payload)
    if kind == "date":
        return date.fromisoformat(payload)
    if kind == "timedelta":
        return to_timedelta(payload)
    if kind == "float":
        return float(payload)
    if kind == "tuple":
        return tuple(decode_value(payload, lookup))
    if kind == "set":
        return set(decode_value(payload, lookup))
    if kind == "frozenset":
        return frozenset(decode_value(payload, lookup))
    if kind == "dict":
        return {decode_value(key, lookup): decode_value(item, lookup) for key, item in payload}
    if kind == "xcomarg":
        if lookup is None:
            raise SerializationError(
                f"a reference to task {payload.get('task_id')!r}'s output is not allowed here"
            )
        return XComArg(lookup(payload["task_id"]), payload["key"])
    if kind == "dag_param":
        return DagParam(payload)
    if kind == "param":
        return decode_param(payload, lookup)
    if kind == "repr":
        return ReprValue(payload["type"], payload["repr"])
    raise SerializationError(f"unknown value type {kind!r} in serialized DAG")
