"""One task as JSON, and back as a ``SerializedOperator`` / ``SerializedMappedOperator``.

Every scheduling attribute of ``BASE_DEFAULTS`` is stored, defaults included, so a stored
DAG keeps its meaning if a default changes in a later release. Timedeltas are seconds,
datetimes ISO 8601 text, callbacks ``has_<name>`` booleans. Reading back happens in two
steps: ``create_task`` makes the node (no references to other tasks yet), then
``fill_task`` sets the values that may refer to other tasks' outputs (template values,
mapped input), once every task exists.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tradewind.operators.empty import EmptyOperator
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.mapped import MappedOperator
from tradewind.sdk.param import ParamsDict
from tradewind.sdk.task_node import BASE_DEFAULTS, TaskNode
from tradewind.sensors.base import BaseSensorOperator
from tradewind.serialization import values
from tradewind.serialization.errors import SerializationError
from tradewind.serialization.serialized_operator import (
    CALLBACK_NAMES,
    SENSOR_FIELDS,
    SerializedMappedOperator,
    SerializedOperator,
    SerializedTaskMixin,
)

if TYPE_CHECKING:
    from tradewind.sdk.dag import DAG

_TIMEDELTA_FIELDS = frozenset({"retry_delay", "max_retry_delay", "execution_timeout"})
_DATETIME_FIELDS = frozenset({"start_date", "end_date"})
_SENSOR_SECONDS = frozenset({"poke_interval", "timeout", "max_wait"})


# -- writing ---------------------------------------------------------------------------------
def has_callback(obj: Any, name: str) -> bool:
    """Whether ``obj`` (a task or DAG, original or deserialized) has callback ``name``."""
    flag = getattr(obj, f"has_{name}", None)
    if isinstance(flag, bool):
        return flag
    return bool(getattr(obj, name, None))


def encode_params(params: Any) -> list[dict[str, Any]] | None:
    """Params in their order, each ``{"name", "description", "schema", "default"?}``."""
    if params is None:
        return None
    as_dict = params if isinstance(params, ParamsDict) else ParamsDict(params)
    return [{"name": name, **values.encode_param(as_dict.get_param(name))} for name in as_dict]


def decode_params(data: Any) -> dict[str, Any] | None:
    if data is None:
        return None
    return {item["name"]: values.decode_param(item) for item in data}


def _encode_base(task: TaskNode) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in BASE_DEFAULTS:
        value = getattr(task, name, BASE_DEFAULTS[name])
        if name in CALLBACK_NAMES:
            out[f"has_{name}"] = has_callback(task, name)
        elif name in _TIMEDELTA_FIELDS:
            out[name] = None if value is None else values.seconds(value)
        elif name in _DATETIME_FIELDS:
            out[name] = values.iso(value)
        elif name == "params":
            out[name] = encode_params(value)
        else:
            out[name] = values.encode_value(value)
    return out


def _operator_class(task: TaskNode) -> type:
    return task.operator_class if isinstance(task, MappedOperator) else type(task)


def _class_facts(task: TaskNode) -> dict[str, Any]:
    if isinstance(task, (SerializedOperator, SerializedMappedOperator)):
        return {
            "task_type": task.task_type,
            "operator_module": task.operator_module,
            "operator_name": task.operator_name,
            "template_ext": list(task.template_ext),
            "template_fields_renderers": dict(task.template_fields_renderers),
            "inherits_from_empty_operator": task.inherits_from_empty_operator,
        }
    cls = _operator_class(task)
    source: Any = cls if isinstance(task, MappedOperator) else task
    return {
        "task_type": cls.__name__,
        "operator_module": cls.__module__,
        "operator_name": getattr(cls, "custom_operator_name", None) or cls.__name__,
        "template_ext": list(getattr(source, "template_ext", ())),
        "template_fields_renderers": dict(getattr(source, "template_fields_renderers", {}) or {}),
        "inherits_from_empty_operator": (
            issubclass(cls, EmptyOperator)
            if isinstance(task, MappedOperator)
            else isinstance(task, BaseOperator) and task.inherits_from_empty_operator
        ),
    }


def _sensor_default(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameter = inspect.signature(inspect.unwrap(init)).parameters.get(name)
        if parameter is not None and parameter.default is not parameter.empty:
            return parameter.default
    return None


def _sensor(task: TaskNode) -> dict[str, Any] | None:
    if isinstance(task, SerializedTaskMixin):
        if not task.is_sensor:
            return None
        settings = {name: getattr(task, name) for name in SENSOR_FIELDS}
    elif isinstance(task, MappedOperator):
        if not issubclass(task.operator_class, BaseSensorOperator):
            return None
        settings = {
            name: task.partial_kwargs.get(name, _sensor_default(task.operator_class, name))
            for name in SENSOR_FIELDS
        }
    elif isinstance(task, BaseSensorOperator):
        settings = {name: getattr(task, name, None) for name in SENSOR_FIELDS}
    else:
        return None
    for name in _SENSOR_SECONDS:
        value = settings[name]
        if hasattr(value, "total_seconds"):
            settings[name] = values.seconds(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            settings[name] = values.number(value)
    return {name: values.encode_value(value) for name, value in settings.items()}


def _template_values(task: TaskNode) -> dict[str, Any]:
    fields = list(task.template_fields)  # type: ignore[attr-defined]  # every operator class has them
    if isinstance(task, MappedOperator):
        source = task.partial_kwargs
        return {name: source[name] for name in fields if name in source}
    if isinstance(task, SerializedOperator):
        return {name: task.template_values[name] for name in fields if name in task.template_values}
    missing = object()
    found = {name: getattr(task, name, missing) for name in fields}
    return {name: value for name, value in found.items() if value is not missing}


def _mapping(task: MappedOperator) -> dict[str, Any]:
    expand_input = None
    if task.expand_input is not None:
        # A list of pairs: the order of the arguments (and
        # of a mapped dict's items) is the map order.
        expand_input = [
            [name, values.encode_value(value, ordered=True)]
            for name, value in task.expand_input.items()
        ]
    return {
        "expand_input": expand_input,
        "expand_kwargs_input": None
        if task.expand_input is not None
        else values.encode_value(task.expand_kwargs_input),
        "mapped_into": task.mapped_into,
        "mapped_argument_names": list(task.mapped_argument_names()),
    }


def serialize_task(task: TaskNode) -> dict[str, Any]:
    """The JSON form of one task (see ``tradewind.serialization`` for the keys)."""
    data: dict[str, Any] = {
        "task_id": task.task_id,
        "is_mapped": bool(task.is_mapped),
        **_class_facts(task),
        "ui_color": task.ui_color,
        "ui_fgcolor": task.ui_fgcolor,
        "template_fields": list(task.template_fields),  # type: ignore[attr-defined]  # every operator class has them
        "template_values": {
            name: values.encode_value(value) for name, value in _template_values(task).items()
        },
        "sensor": _sensor(task),
        "upstream_task_ids": sorted(task.upstream_task_ids),
        "downstream_task_ids": sorted(task.downstream_task_ids),
        **_encode_base(task),
    }
    if isinstance(task, MappedOperator):
        data.update(_mapping(task))
    return data


# -- reading ---------------------------------------------------------------------------------
def _decode_base(data: Mapping[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for name in BASE_DEFAULTS:
        if name in CALLBACK_NAMES:
            continue  # callbacks cannot be stored; has_<name> says whether there was one
        if name not in data:
            args[name] = BASE_DEFAULTS[name]
        elif name in _TIMEDELTA_FIELDS:
            args[name] = values.to_timedelta(data[name])
        elif name in _DATETIME_FIELDS:
            args[name] = values.to_datetime(data[name])
        elif name == "params":
            args[name] = decode_params(data[name])
        else:
            args[name] = values.decode_value(data[name])
    return args


def _restore_facts(task: SerializedTaskMixin, data: Mapping[str, Any]) -> None:
    task.task_type = data["task_type"]
    task.operator_module = data["operator_module"]
    task.template_ext = tuple(data.get("template_ext") or ())
    task.template_fields_renderers = dict(data.get("template_fields_renderers") or {})
    task._inherits_from_empty_operator = bool(data.get("inherits_from_empty_operator"))
    for name in CALLBACK_NAMES:
        setattr(task, f"has_{name}", bool(data.get(f"has_{name}")))
    sensor = data.get("sensor")
    task.is_sensor = sensor is not None
    for name in SENSOR_FIELDS:
        setattr(task, name, values.decode_value(sensor.get(name)) if sensor is not None else None)
    task.ui_color = data["ui_color"]  # type: ignore[attr-defined]  # the mixin is always on a task
    task.ui_fgcolor = data["ui_fgcolor"]  # type: ignore[attr-defined]  # the mixin is always on a task


def create_task(data: Mapping[str, Any], dag: DAG) -> TaskNode:
    """The task node of ``data``, added to ``dag``'s
    root group, without edges or template values."""
    task_id = data["task_id"]
    base_args = _decode_base(data)
    task: SerializedOperator | SerializedMappedOperator
    if data.get("is_mapped"):
        task = SerializedMappedOperator(
            task_id=task_id,
            dag=dag,
            operator_name=data["operator_name"],
            template_fields=data.get("template_fields") or (),
            base_args=base_args,
        )
    else:
        task = SerializedOperator(task_id=task_id, dag=dag, **base_args)
        task.operator_name = data["operator_name"]
        task.template_fields = tuple(data.get("template_fields") or ())
        task.template_values = {}
    _restore_facts(task, data)
    task.definition_location = None  # where the DAG file created it is not stored
    return task


def fill_task(task: TaskNode, data: Mapping[str, Any], lookup: values.TaskLookup) -> None:
    """Set the values that may refer to other tasks: template values and mapped input."""
    template_values = {
        name: values.decode_value(value, lookup)
        for name, value in (data.get("template_values") or {}).items()
    }
    if isinstance(task, SerializedMappedOperator):
        task.partial_kwargs = template_values
        task.mapped_into = data.get("mapped_into")
        expand_input = data.get("expand_input")
        if expand_input is not None:
            task.expand_input = {
                name: values.decode_value(value, lookup) for name, value in expand_input
            }
            task.expand_kwargs_input = None
        else:
            task.expand_input = None
            task.expand_kwargs_input = values.decode_value(data.get("expand_kwargs_input"), lookup)
    elif isinstance(task, SerializedOperator):
        task.set_template_values(template_values)
    else:  # pragma: no cover - create_task makes only the two classes above
        raise SerializationError(f"unexpected task class {type(task).__name__}")
