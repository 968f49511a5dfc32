"""The machinery behind ``@task`` and its variants: a function becomes a task factory.

Calling a decorated function inside a DAG creates a task whose ``python_callable`` is the
function and returns its ``XComArg``; XComArgs among the arguments become upstream edges.
Which operator class runs the function is chosen by the variant (``tradewind.decorators``).
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

from tradewind.exceptions import DagDefinitionError
from tradewind.sdk import definition_context
from tradewind.sdk.mapped import OperatorPartial
from tradewind.sdk.xcom_arg import XComArg

_SUFFIX = re.compile(r"__(\d+)\Z")


def infer_multiple_outputs(function: Callable[..., Any]) -> bool:
    """True when the function is annotated to return a mapping (as Airflow infers it)."""
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # unresolvable forward references: be conservative
        return False
    returned = hints.get("return")
    if returned is None:
        return False
    origin = typing.get_origin(returned) or returned
    return isinstance(origin, type) and issubclass(origin, Mapping)


def unique_task_id(task_id: str) -> str:
    """``task_id``, or ``task_id__N`` when the current DAG already has that id (Airflow's rule)."""
    dag = definition_context.current_dag()
    if dag is None:
        return task_id
    group = definition_context.current_group(dag)
    full = group.child_id(task_id) if group is not None else task_id
    if full not in dag.task_dict:
        return task_id
    base = _SUFFIX.sub("", task_id)
    base_full = _SUFFIX.sub("", full)
    numbers = [
        int(match.group(1))
        for existing in dag.task_dict
        if existing.startswith(base_full + "__") and (match := _SUFFIX.search(existing))
    ]
    return f"{base}__{max(numbers, default=0) + 1}"


class TaskDecorator:
    """A function decorated with ``@task`` (or a variant): call it to add a task to the DAG."""

    def __init__(
        self,
        function: Callable[..., Any],
        operator_class: type,
        *,
        multiple_outputs: bool | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        if not callable(function):
            raise DagDefinitionError(f"@task decorates functions, got {function!r}")
        functools.update_wrapper(self, function)
        self.function = function
        self.operator_class = operator_class
        self.multiple_outputs = (
            infer_multiple_outputs(function) if multiple_outputs is None else multiple_outputs
        )
        self.kwargs = dict(kwargs or {})

    def _operator_kwargs(self) -> dict[str, Any]:
        kwargs = dict(self.kwargs)
        kwargs["task_id"] = unique_task_id(kwargs.pop("task_id", self.function.__name__))
        kwargs["python_callable"] = self.function
        kwargs.setdefault("multiple_outputs", self.multiple_outputs)
        return kwargs

    def _check_call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            signature = inspect.signature(self.function)
        except (TypeError, ValueError):
            return
        optional = [
            p.replace(default=None)
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            else p
            for p in signature.parameters.values()
        ]
        try:
            signature.replace(parameters=optional).bind(*args, **kwargs)
        except TypeError as exc:
            raise DagDefinitionError(f"task {self.function.__name__!r}: {exc}") from None

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        self._check_call(args, kwargs)
        operator = self.operator_class(
            op_args=list(args), op_kwargs=dict(kwargs), **self._operator_kwargs()
        )
        return XComArg(operator)

    def override(self, **kwargs: Any) -> TaskDecorator:
        """The same task with other operator arguments (``task_id``, ``retries``, ...)."""
        multiple_outputs = kwargs.pop("multiple_outputs", self.multiple_outputs)
        return TaskDecorator(
            self.function,
            self.operator_class,
            multiple_outputs=multiple_outputs,
            kwargs={**self.kwargs, **kwargs},
        )

    def partial(self, **kwargs: Any) -> DecoratedPartial:
        self._check_call((), kwargs)
        return DecoratedPartial(self, kwargs)

    def expand(self, **mapped: Any) -> XComArg:
        return self.partial().expand(**mapped)

    def expand_kwargs(self, value: Any) -> XComArg:
        return self.partial().expand_kwargs(value)


class DecoratedPartial:
    """``my_task.partial(a=1)``: function arguments fixed, waiting for ``expand``."""

    def __init__(self, decorator: TaskDecorator, fixed: dict[str, Any]) -> None:
        self.decorator = decorator
        self.fixed = fixed

    def _partial(self) -> OperatorPartial:
        kwargs = self.decorator._operator_kwargs()
        kwargs["op_args"] = []
        kwargs["op_kwargs"] = dict(self.fixed)
        return OperatorPartial(self.decorator.operator_class, kwargs, mapped_into="op_kwargs")

    def _check_names(self, names: list[str]) -> None:
        parameters = inspect.signature(self.decorator.function).parameters
        if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            return
        unknown = [name for name in names if name not in parameters]
        if unknown:
            raise DagDefinitionError(
                f"task {self.decorator.function.__name__!r}: expand() got arguments the function "
                "does not take: " + ", ".join(unknown)
            )
        both = [name for name in names if name in self.fixed]
        if both:
            raise DagDefinitionError(
                f"task {self.decorator.function.__name__!r}: {', '.join(both)} given both to "
                "partial() and expand()"
            )

    def expand(self, **mapped: Any) -> XComArg:
        self._check_names(list(mapped))
        return XComArg(self._partial().expand(**mapped))

    def expand_kwargs(self, value: Any) -> XComArg:
        if isinstance(value, (list, tuple)):
            for element in value:
                if isinstance(element, dict):
                    self._check_names(list(element))
        return XComArg(self._partial().expand_kwargs(value))


def make_task_decorator(operator_class: type) -> Callable[..., Any]:
    """A decorator usable as ``@deco``, ``@deco()`` and ``@deco(retries=2, ...)``."""

    def decorator(
        python_callable: Callable[..., Any] | None = None,
        *,
        multiple_outputs: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        def wrap(function: Callable[..., Any]) -> TaskDecorator:
            return TaskDecorator(
                function, operator_class, multiple_outputs=multiple_outputs, kwargs=kwargs
            )

        if python_callable is not None:
            return wrap(python_callable)
        return wrap

    return decorator
