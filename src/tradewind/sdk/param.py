"""``Param``: a DAG (or task) parameter with a JSON-schema, validated at parse and trigger time.

A run's ``conf`` overrides the params' defaults; the result is validated against each
param's schema, and an invalid value is rejected with the param's name and the reason.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import fastjsonschema

from tradewind.exceptions import ParamValidationError


class _NotSet:
    def __repr__(self) -> str:
        return "NOTSET"

    def __bool__(self) -> bool:
        return False


NOTSET: Any = _NotSet()

_SCHEMA_KEYS = frozenset(
    {
        "type",
        "enum",
        "const",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "properties",
        "required",
        "additionalProperties",
        "examples",
        "title",
        "values_display",
        "description_md",
        "section_collapsed",
        "section",
        "oneOf",
        "anyOf",
        "allOf",
        "not",
    }
)


class Param:
    """A parameter: a default value, a description and JSON-schema keywords for validation."""

    def __init__(
        self, default: Any = NOTSET, description: str | None = None, **schema: Any
    ) -> None:
        unknown = sorted(set(schema) - _SCHEMA_KEYS)
        if unknown:
            raise ParamValidationError(f"Param got unknown schema keywords: {', '.join(unknown)}")
        self.value = default
        self.description = description
        self.schema = schema
        self._validator: Any = None

    @property
    def has_value(self) -> bool:
        return self.value is not NOTSET

    def _validate_against_schema(self, name: str, value: Any) -> None:
        schema = {
            key: val for key, val in self.schema.items() if key not in {"values_display", "section"}
        }
        if not schema:
            return
        if self._validator is None:
            try:
                self._validator = fastjsonschema.compile(schema)
            except fastjsonschema.JsonSchemaDefinitionException as exc:
                raise ParamValidationError(f"param {name!r} has an invalid schema: {exc}") from exc
        try:
            self._validator(value)
        except fastjsonschema.JsonSchemaValueException as exc:
            message = str(exc.message).replace("data", "value", 1)
            raise ParamValidationError(
                f"invalid value for param {name!r}: {value!r}: {message}"
            ) from None

    def resolve(self, value: Any = NOTSET, *, name: str = "param") -> Any:
        """The value to use (``value`` or the default), validated against the schema."""
        final = self.value if value is NOTSET else value
        if final is NOTSET:
            raise ParamValidationError(
                f"param {name!r} is required: it has no default and no value was given"
            )
        self._validate_against_schema(name, final)
        return final

    def serialize(self) -> dict[str, Any]:
        data: dict[str, Any] = {"description": self.description, "schema": dict(self.schema)}
        if self.has_value:
            data["default"] = self.value
        return data

    @classmethod
    def deserialize(cls, data: Mapping[str, Any]) -> Param:
        return cls(
            data.get("default", NOTSET),
            description=data.get("description"),
            **data.get("schema", {}),
        )

    def __repr__(self) -> str:
        return f"Param({self.value!r}, {self.schema!r})"


class ParamsDict(MutableMapping[str, Any]):
    """Params by name. Item access gives values; ``get_param`` gives the ``Param``."""

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        self._params: dict[str, Param] = {}
        for name, value in (params or {}).items():
            self[name] = value

    def __setitem__(self, name: str, value: Any) -> None:
        if isinstance(value, Param):
            self._params[name] = value
        elif name in self._params:
            self._params[name] = _with_value(self._params[name], value)
        else:
            self._params[name] = Param(value)

    def __getitem__(self, name: str) -> Any:
        return self._params[name].value

    def __delitem__(self, name: str) -> None:
        del self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def get_param(self, name: str) -> Param:
        return self._params[name]

    def copy(self) -> ParamsDict:
        return ParamsDict({name: copy.copy(param) for name, param in self._params.items()})

    def validate_defaults(self) -> None:
        """Check the params that have a default; required ones may wait for the trigger."""
        for name, param in self._params.items():
            if param.has_value:
                param.resolve(name=name)

    def resolve(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Final values with ``overrides`` (a run's conf) applied, every param validated."""
        overrides = dict(overrides or {})
        result: dict[str, Any] = {}
        for name, param in self._params.items():
            result[name] = param.resolve(overrides.pop(name, NOTSET), name=name)
        result.update(overrides)
        return result

    def serialize(self) -> dict[str, Any]:
        return {name: param.serialize() for name, param in self._params.items()}

    @classmethod
    def deserialize(cls, data: Mapping[str, Any]) -> ParamsDict:
        return cls({name: Param.deserialize(value) for name, value in data.items()})


def resolve_task_params(
    dag_params: ParamsDict, task_params: Mapping[str, Any] | None, conf: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A task's ``params`` at run time: the DAG's, overlaid by the task's own, then by the run's
    conf (Airflow's order); a plain value given for a DAG ``Param`` keeps that Param's schema."""
    merged = dag_params.copy()
    for name, value in (task_params or {}).items():
        merged[name] = value
    return merged.resolve(conf)


def _with_value(param: Param, value: Any) -> Param:
    updated = copy.copy(param)
    updated.value = value
    updated._validator = param._validator
    return updated


class DagParam:
    """A reference to a DAG param, made by ``@dag`` for
    each function argument; resolved at run time."""

    def __init__(self, name: str) -> None:
        self.name = name

    def resolve(self, context: Mapping[str, Any]) -> Any:
        return context["params"][self.name]

    def __repr__(self) -> str:
        return f"DagParam({self.name!r})"
