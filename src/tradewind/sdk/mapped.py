"""Dynamic task mapping: ``Op.partial(...).expand(arg=...)`` and ``.expand_kwargs(...)``.

A ``MappedOperator`` is one node of the DAG; at run time, once its upstream XComs exist, its
input is resolved to a list and it becomes one task instance per element (``map_index``).
An empty input makes the mapped task skipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tradewind.exceptions import DagDefinitionError
from tradewind.sdk.default_args import apply_default_args
from tradewind.sdk.task_node import BASE_DEFAULTS, TaskNode
from tradewind.sdk.xcom_arg import XComArg, find_xcom_args

if TYPE_CHECKING:
    from tradewind.sdk.baseoperator import BaseOperator

#: Pulls ``(task_id, key)`` from the current run; mapped producers give a list.
XComPuller = Callable[[str, str], Any]

UNMAPPING_KEY = "_tw_unmapped_from"
_NOT_MAPPABLE = frozenset({"task_id", "dag", "task_group", "default_args"})


def _check_mappable(
    operator_class: type[TaskNode], names: Sequence[str], partial_kwargs: dict[str, Any]
) -> None:
    accepted = operator_class.accepted_params()
    for name in names:
        if name in _NOT_MAPPABLE:
            raise DagDefinitionError(f"{operator_class.__name__}: {name!r} cannot be mapped")
        if name not in accepted:
            raise DagDefinitionError(
                f"{operator_class.__name__}.expand() got an unexpected argument {name!r}"
            )
        if name in partial_kwargs:
            raise DagDefinitionError(
                f"{operator_class.__name__}: {name!r} is given both to partial() and to expand()"
            )


class OperatorPartial:
    """An operator class with some arguments fixed, waiting for ``expand``."""

    def __init__(
        self,
        operator_class: type[BaseOperator],
        kwargs: dict[str, Any],
        *,
        mapped_into: str | None = None,
    ) -> None:
        kwargs = apply_default_args(operator_class, dict(kwargs))
        if "task_id" not in kwargs:
            raise DagDefinitionError(f"{operator_class.__name__}.partial() needs a task_id")
        accepted = operator_class.accepted_params() | {"dag", "task_group", "task_id"}
        unknown = sorted(set(kwargs) - accepted)
        if unknown:
            raise DagDefinitionError(
                f"{operator_class.__name__}.partial() got unexpected arguments: "
                f"{', '.join(unknown)}"
            )
        self.operator_class = operator_class
        self.kwargs = kwargs
        self.mapped_into = mapped_into

    def expand(self, **mapped: Any) -> MappedOperator:
        if not mapped:
            raise DagDefinitionError(
                f"{self.operator_class.__name__}.expand() needs at least one argument"
            )
        if self.mapped_into is None:
            _check_mappable(self.operator_class, list(mapped), self.kwargs)
        for name, value in mapped.items():
            if not isinstance(value, (list, tuple, dict, XComArg)):
                raise DagDefinitionError(
                    f"expand() argument {name!r} must be a list, tuple, dict or a task's output, "
                    f"got {type(value).__name__}"
                )
        return MappedOperator(
            self.operator_class,
            self.kwargs,
            expand_input=dict(mapped),
            mapped_into=self.mapped_into,
        )

    def expand_kwargs(self, value: Any) -> MappedOperator:
        if not isinstance(value, (list, tuple, XComArg)):
            raise DagDefinitionError(
                "expand_kwargs() takes a list of dicts or a task's output, got "
                f"{type(value).__name__}"
            )
        if isinstance(value, (list, tuple)):
            for index, element in enumerate(value):
                if not isinstance(element, (dict, XComArg)):
                    raise DagDefinitionError(
                        f"expand_kwargs() element {index} is not a dict: {element!r}"
                    )
                if isinstance(element, dict) and self.mapped_into is None:
                    _check_mappable(self.operator_class, list(element), self.kwargs)
        return MappedOperator(
            self.operator_class,
            self.kwargs,
            expand_kwargs_input=value,
            mapped_into=self.mapped_into,
        )


class MappedOperator(TaskNode):
    """A task that becomes one task instance per element of its mapped input."""

    is_mapped = True

    def __init__(
        self,
        operator_class: type[BaseOperator],
        partial_kwargs: dict[str, Any],
        *,
        expand_input: dict[str, Any] | None = None,
        expand_kwargs_input: Any = None,
        mapped_into: str | None = None,
    ) -> None:
        kwargs = dict(partial_kwargs)
        dag = kwargs.pop("dag", None)
        group = kwargs.pop("task_group", None)
        task_id = kwargs.pop("task_id")
        self._init_node(task_id, dag, group)
        self.base_kwargs = {
            name: kwargs.pop(name) for name in list(kwargs) if name in BASE_DEFAULTS
        }
        self._set_base_args(self.base_kwargs)
        self.operator_class = operator_class
        self.partial_kwargs = kwargs
        self.expand_input = expand_input
        self.expand_kwargs_input = expand_kwargs_input
        self.mapped_into = mapped_into
        self.ui_color = operator_class.ui_color
        self.ui_fgcolor = operator_class.ui_fgcolor
        templated = [kwargs.get(name) for name in operator_class.template_fields]
        for arg in find_xcom_args([expand_input, expand_kwargs_input, templated]):
            self.set_upstream(arg)

    @property
    def template_fields(self) -> Sequence[str]:
        return self.operator_class.template_fields

    @property
    def operator_name(self) -> str:
        return self.operator_class.__name__

    @property
    def output(self) -> XComArg:
        return XComArg(self)

    def mapped_input_xcom_args(self) -> list[XComArg]:
        return find_xcom_args([self.expand_input, self.expand_kwargs_input])

    def mapped_argument_names(self) -> list[str]:
        if self.expand_input is not None:
            return list(self.expand_input)
        return []

    def resolve_expansion(self, pull: XComPuller) -> list[dict[str, Any]]:
        """The keyword arguments of each map index, in order."""
        if self.expand_input is not None:
            names = list(self.expand_input)
            columns = [
                _as_elements(name, _resolve(value, pull))
                for name, value in self.expand_input.items()
            ]
            return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*columns)]
        value = _resolve(self.expand_kwargs_input, pull)
        if not isinstance(value, (list, tuple)):
            raise DagDefinitionError(
                f"task {self.task_id!r}: expand_kwargs() input resolved to {type(value).__name__}, "
                "not a list of dicts"
            )
        result: list[dict[str, Any]] = []
        for index, element in enumerate(value):
            element = _resolve(element, pull)
            if not isinstance(element, dict):
                raise DagDefinitionError(
                    f"task {self.task_id!r}: expand_kwargs() element {index} is "
                    f"{type(element).__name__}, not a dict"
                )
            result.append(element)
        return result

    def unmap(self, mapped_kwargs: dict[str, Any]) -> BaseOperator:
        """A real operator for one map index (not added to the DAG)."""
        kwargs = {**self.base_kwargs, **self.partial_kwargs}
        if self.mapped_into:
            kwargs[self.mapped_into] = {**(kwargs.get(self.mapped_into) or {}), **mapped_kwargs}
        else:
            kwargs.update(mapped_kwargs)
        kwargs["task_id"] = self.task_id
        kwargs[UNMAPPING_KEY] = self
        return self.operator_class(**kwargs)


def _resolve(value: Any, pull: XComPuller) -> Any:
    if isinstance(value, XComArg):
        return pull(value.operator.task_id, value.key)
    return value


def _as_elements(name: str, value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, (list, tuple)):
        return list(value)
    if value is None:
        return []
    raise DagDefinitionError(
        f"cannot map over {name!r}: its value is {type(value).__name__}, not a list or dict"
    )
