"""The trigger form: one field per DAG param, typed by its schema, read back into a run's conf.

Each value is checked against its param's schema here, so an error is shown next to its
field; the trigger service validates the whole conf again before it creates the run.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, tzinfo
from typing import Any

from starlette.datastructures import FormData

from tradewind.api.ui.models_structure import DagShape, ParamShape, param_default_text
from tradewind.exceptions import ParamValidationError
from tradewind.sdk.param import Param

PREFIX = "param."


@dataclasses.dataclass
class TriggerForm:
    """What the form shows: the raw texts typed, and the errors found in them."""

    values: dict[str, str]
    conf_json: str = ""
    logical_date: str = ""
    run_id: str = ""
    note: str = ""
    errors: dict[str, str] = dataclasses.field(default_factory=dict)
    error: str | None = None

    @classmethod
    def defaults(cls, shape: DagShape) -> TriggerForm:
        return cls(values={p.name: param_default_text(p) for p in shape.params})


@dataclasses.dataclass(frozen=True)
class TriggerRequest:
    conf: dict[str, Any]
    logical_date: datetime | None
    run_id: str | None
    note: str | None


def _value(param: ParamShape, raw: str, present: bool) -> Any:
    kind = param.kind
    if kind == "boolean":
        return present and raw not in {"", "false", "off", "0"}
    text = raw.strip()
    if text == "":
        if param.has_default and param.default is None:
            return None
        raise ValueError(
            "a value is required" if not param.has_default else "empty: clear means no value"
        )
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError("must be a number") from None
        return (
            int(number)
            if number.is_integer() and "." not in text and "e" not in text.lower()
            else number
        )
    if kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"must be JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
    if kind == "enum":
        options = param.schema.get("enum") or []
        for option in options:
            if str(option) == text:
                return option
        raise ValueError(f"must be one of {', '.join(map(str, options))}")
    return raw


def read(
    shape: DagShape, form: FormData, zone: tzinfo
) -> tuple[TriggerForm, TriggerRequest | None]:
    """The form as typed, and the request it makes (None when something is wrong)."""
    typed = TriggerForm(
        values={},
        conf_json=_text(form, "conf_json"),
        logical_date=_text(form, "logical_date"),
        run_id=_text(form, "run_id").strip(),
        note=_text(form, "note"),
    )
    conf: dict[str, Any] = {}
    if typed.conf_json.strip():
        try:
            extra = json.loads(typed.conf_json)
        except json.JSONDecodeError as exc:
            typed.errors["conf_json"] = (
                f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            )
        else:
            if isinstance(extra, dict):
                conf.update(extra)
            else:
                typed.errors["conf_json"] = 'must be a JSON object, like {"key": "value"}'
    for param in shape.params:
        name = PREFIX + param.name
        raw = _text(form, name)
        typed.values[param.name] = raw
        try:
            value = _value(param, raw, name in form)
        except ValueError as exc:
            if not raw.strip() and param.has_default:
                continue  # an emptied field falls back to the default
            typed.errors[param.name] = str(exc)
            continue
        try:
            Param(param.default if param.has_default else None, **param.schema).resolve(
                value, name=param.name
            )
        except ParamValidationError as exc:
            typed.errors[param.name] = str(exc)
            continue
        conf[param.name] = value
    logical: datetime | None = None
    if typed.logical_date.strip():
        try:
            logical = datetime.fromisoformat(typed.logical_date.strip())
        except ValueError:
            typed.errors["logical_date"] = "not a date and time"
        else:
            if logical.tzinfo is None:
                logical = logical.replace(tzinfo=zone)
    if typed.errors:
        typed.error = "Please correct the fields marked below."
        return typed, None
    return typed, TriggerRequest(conf, logical, typed.run_id or None, typed.note.strip() or None)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""
