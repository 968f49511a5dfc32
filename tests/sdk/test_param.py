"""``Param`` and ``ParamsDict``: JSON-schema validation, conf overrides."""

from __future__ import annotations

from typing import Any

import pytest

from tradewind import Param
from tradewind.exceptions import ParamValidationError
from tradewind.sdk.param import NOTSET, ParamsDict, resolve_task_params


@pytest.mark.parametrize(
    ("param", "value", "reason"),
    [
        (Param(5, type="integer"), "5", "must be integer"),
        (Param(5, type="integer", minimum=1), 0, "bigger than or equal to 1"),
        (Param(5, type="integer", maximum=10), 11, "smaller than or equal to 10"),
        (Param("a", enum=["a", "b"]), "c", "must be one of \\['a', 'b'\\]"),
        (Param("x", type="string", minLength=2), "x", "longer than or equal to 2"),
        (Param([], type="array", items={"type": "integer"}), [1, "2"], "must be integer"),
        (Param(None, type=["null", "string"]), 3, "must be null or string"),
    ],
)
def test_invalid_values_are_rejected_with_name_and_reason(
    param: Param, value: Any, reason: str
) -> None:
    with pytest.raises(ParamValidationError, match=reason) as info:
        param.resolve(value, name="p")
    assert "invalid value for param 'p'" in str(info.value)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        (Param(5, type="integer", minimum=1, maximum=10), 10),
        (Param("a", enum=["a", "b"]), "b"),
        (Param(1.5, type="number"), 2),
        (Param(None, type=["null", "string"]), None),
        (Param({"k": 1}, type="object"), {"k": 2}),
    ],
)
def test_valid_values_pass(param: Param, value: Any) -> None:
    assert param.resolve(value) == value
    assert param.resolve() == param.value


def test_required_param() -> None:
    required = Param(type="string")
    assert not required.has_value and required.value is NOTSET
    with pytest.raises(ParamValidationError, match="param 'p' is required"):
        required.resolve(name="p")
    assert required.resolve("given") == "given"


def test_unknown_schema_keywords_are_rejected() -> None:
    with pytest.raises(ParamValidationError, match="unknown schema keywords: minimun"):
        Param(1, minimun=0)


def test_the_trigger_form_s_keywords_are_accepted() -> None:
    param = Param(
        "a",
        type="string",
        title="Choice",
        description_md="**pick** one",
        section="Advanced",
        values_display={"a": "Option A"},
        enum=["a", "b"],
    )
    assert param.resolve(name="p") == "a"
    with pytest.raises(ParamValidationError):
        param.resolve("c", name="p")


def test_invalid_schema_is_reported() -> None:
    with pytest.raises(ParamValidationError, match="param 'p' has an invalid schema"):
        Param(1, type="no-such-type").resolve(name="p")


def test_params_dict_values_and_conf_overrides() -> None:
    params = ParamsDict({"n": Param(5, type="integer", minimum=1), "plain": "x"})
    assert dict(params) == {"n": 5, "plain": "x"}
    params["n"] = 7  # a plain value keeps the Param's schema
    assert params.get_param("n").schema == {"type": "integer", "minimum": 1}
    with pytest.raises(ParamValidationError):
        params.resolve({"n": 0})
    assert params.resolve({"n": 9, "extra": True}) == {"n": 9, "plain": "x", "extra": True}
    assert params.resolve() == {"n": 7, "plain": "x"}
    copied = params.copy()
    copied["n"] = 2
    assert params["n"] == 7 and len(params) == 2 and "plain" in params
    del params["plain"]
    assert list(params) == ["n"]


def test_validate_defaults_skips_required_params() -> None:
    ParamsDict({"required": Param(type="string")}).validate_defaults()
    with pytest.raises(ParamValidationError):
        ParamsDict({"bad": Param("x", type="integer")}).validate_defaults()


def test_serialize_round_trip() -> None:
    params = ParamsDict(
        {"n": Param(5, description="how many", type="integer"), "required": Param(type="string")}
    )
    restored = ParamsDict.deserialize(params.serialize())
    assert restored["n"] == 5 and restored.get_param("n").description == "how many"
    assert not restored.get_param("required").has_value


def test_task_params_overlay_dag_params_then_conf() -> None:
    dag_params = ParamsDict({"n": Param(5, type="integer"), "who": "ada"})
    assert resolve_task_params(dag_params, {"who": "grace", "x": 1}, {}) == {
        "n": 5,
        "who": "grace",
        "x": 1,
    }
    assert resolve_task_params(dag_params, {"who": "grace"}, {"who": "linus"}) == {
        "n": 5,
        "who": "linus",
    }
    assert resolve_task_params(dag_params, None, None) == {"n": 5, "who": "ada"}
    with pytest.raises(ParamValidationError, match="param 'n'"):
        resolve_task_params(dag_params, {"n": "five"}, {})
    assert dag_params["who"] == "ada"  # the DAG's params are left as they were
