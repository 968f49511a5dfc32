"""Python values from DAG files as JSON data, and back."""

from __future__ import annotations

import enum
import functools
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from tradewind.sdk.param import NOTSET, DagParam, Param
from tradewind.serialization import ReprValue, SerializationError
from tradewind.serialization.values import canonical, decode_value, describe, encode_value


class Color(enum.Enum):
    RED = "red"


class Opaque:
    pass


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -7,
        2.5,
        "text",
        "",
        [1, [2, [3]]],
        {"a": 1, "b": [None]},
        (1, "two"),
        (),
        {3, 1, 2},
        frozenset({"b", "a"}),
        {1: "one", (2, 3): "pair"},
        {"__type": "user data", "x": 1},
        datetime(2024, 1, 2, 3, 4, 5, 6),
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-5))),
        date(2024, 2, 29),
        timedelta(seconds=1.5),
        timedelta(days=-1),
        float("inf"),
        float("-inf"),
        {"nested": {"set": {"x"}, "when": date(2020, 1, 1)}},
    ],
    ids=repr,
)
def test_values_round_trip(value: Any) -> None:
    data = encode_value(value)
    canonical(data)  # JSON data, or this raises
    back = decode_value(data)
    assert back == value
    assert type(back) is type(value)
    assert encode_value(back) == data


def test_nan_round_trips() -> None:
    back = decode_value(encode_value(float("nan")))
    assert back != back


def test_special_objects() -> None:
    assert encode_value(Color.RED) == "red"
    param = decode_value(encode_value(Param(5, description="five", type="integer")))
    assert (param.value, param.description, param.schema) == (5, "five", {"type": "integer"})
    assert decode_value(encode_value(Param(type="string"))).value is NOTSET
    dag_param = decode_value(encode_value(DagParam("x")))
    assert isinstance(dag_param, DagParam) and dag_param.name == "x"


def test_sets_are_stored_sorted_whatever_the_hash_seed() -> None:
    data = encode_value({"zeta", "alpha", "mu"})
    assert data == {"__type": "set", "__var": ["alpha", "mu", "zeta"]}
    assert encode_value({(2, "b"), (1, "a")})["__var"] == [
        {"__type": "tuple", "__var": [1, "a"]},
        {"__type": "tuple", "__var": [2, "b"]},
    ]


def test_dict_order_is_kept_only_when_asked() -> None:
    value = {"zulu": 1, "alpha": 2}
    assert encode_value(value) == value
    ordered = encode_value(value, ordered=True)
    assert ordered == {"__type": "dict", "__var": [["zulu", 1], ["alpha", 2]]}
    assert list(decode_value(ordered)) == ["zulu", "alpha"]
    assert encode_value({"a": 1, "b": 2}, ordered=True) == {
        "a": 1,
        "b": 2,
    }  # already in canonical order


def test_values_without_json_form_are_kept_as_repr() -> None:
    data = encode_value(Opaque())
    assert data["__type"] == "repr"
    assert data["__var"]["type"].endswith("test_values.Opaque")
    assert " at 0x" not in data["__var"]["repr"]
    back = decode_value(data)
    assert isinstance(back, ReprValue)
    assert str(back) == repr(back) == data["__var"]["repr"]
    assert encode_value(back) == data
    assert decode_value(encode_value(b"\x00")) == ReprValue("builtins.bytes", "b'\\x00'")


def test_functions_are_named_not_addressed() -> None:
    assert describe(test_special_objects) == f"<function {__name__}.test_special_objects>"
    assert describe(Opaque) == f"<class {__name__}.Opaque>"
    assert " at 0x" not in describe(functools.partial(test_special_objects))
    assert describe(len) == "<function builtins.len>"


def test_dag_file_module_names_lose_their_path_hash() -> None:
    fake = type("Thing", (), {"__module__": "tradewind_dag_my_file_0123456789ab"})
    assert encode_value(fake())["__var"]["type"] == "my_file.Thing"


def test_recursive_containers_do_not_loop() -> None:
    value: list[Any] = [1]
    value.append(value)
    data = encode_value(value)
    assert data[0] == 1 and data[1]["__type"] == "repr"


def test_broken_repr_does_not_break_serialization() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert "repr failed: RuntimeError" in encode_value(Broken())["__var"]["repr"]


def test_unknown_tags_and_misplaced_references_are_errors() -> None:
    with pytest.raises(SerializationError, match="unknown value type 'bogus'"):
        decode_value({"__type": "bogus", "__var": 1})
    with pytest.raises(SerializationError, match="not allowed here"):
        decode_value({"__type": "xcomarg", "__var": {"task_id": "t", "key": "return_value"}})
