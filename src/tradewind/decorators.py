"""``@task`` and its variants, bound to the operators that run them.

This module sits above ``sdk`` and ``operators``: the SDK provides the decorator machinery,
the operators provide the behaviour (branching, bash, sensing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tradewind.operators.bash import DecoratedBashOperator
from tradewind.operators.python import (
    DecoratedBranchOperator,
    DecoratedPythonOperator,
    DecoratedShortCircuitOperator,
)
from tradewind.sdk.decorators import make_task_decorator
from tradewind.sdk.task_group import task_group
from tradewind.sensors.python import DecoratedSensorOperator

__all__ = ["task", "task_group"]


class _TaskDecoratorCollection:
    """``@task`` itself, with ``.python``, ``.branch``,
    ``.short_circuit``, ``.bash``, ``.sensor``."""

    python = staticmethod(make_task_decorator(DecoratedPythonOperator))
    branch = staticmethod(make_task_decorator(DecoratedBranchOperator))
    short_circuit = staticmethod(make_task_decorator(DecoratedShortCircuitOperator))
    bash = staticmethod(make_task_decorator(DecoratedBashOperator))
    sensor = staticmethod(make_task_decorator(DecoratedSensorOperator))

    def __call__(self, python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
        return self.python(python_callable, **kwargs)


task = _TaskDecoratorCollection()
