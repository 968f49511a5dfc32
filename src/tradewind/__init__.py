"""Tradewind: write workflows as DAGs of tasks in Python; Tradewind schedules and runs them.

The package exports the authoring API (``from tradewind import DAG, task``), and importing it
loads nothing more: each name is imported from its own module the first time it is asked for.
The ``tradewind`` command, the API server and the scheduler are modules of this package too,
and most of them never author a DAG; loading every operator for them cost ~60 ms a process.
Processes that fork workers which import DAG files load the whole API once, before forking
(``load_authoring_api``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradewind.decorators import task, task_group
    from tradewind.exceptions import FailTask, SkipTask, TradewindError
    from tradewind.operators.bash import BashOperator
    from tradewind.operators.empty import EmptyOperator
    from tradewind.operators.python import (
        BranchPythonOperator,
        PythonOperator,
        ShortCircuitOperator,
    )
    from tradewind.operators.trigger_dagrun import TriggerDagRunOperator
    from tradewind.sdk.baseoperator import BaseOperator
    from tradewind.sdk.context import Context, get_current_context
    from tradewind.sdk.dag import DAG, dag
    from tradewind.sdk.dependencies import chain, cross_downstream
    from tradewind.sdk.param import Param
    from tradewind.sdk.secrets_masker import mask_secret
    from tradewind.sdk.states import DagRunState, TaskInstanceState
    from tradewind.sdk.task_group import TaskGroup
    from tradewind.sdk.trigger_rule import TriggerRule
    from tradewind.sdk.xcom_arg import XComArg
    from tradewind.sensors.base import BaseSensorOperator, PokeReturnValue
    from tradewind.sensors.external_task import ExternalTaskSensor
    from tradewind.sensors.filesystem import FileSensor
    from tradewind.sensors.python import PythonSensor
    from tradewind.sensors.time_delta import TimeDeltaSensor

__version__ = "0.1.0"

__all__ = [
    "DAG",
    "BaseOperator",
    "BaseSensorOperator",
    "BashOperator",
    "BranchPythonOperator",
    "Context",
    "DagRunState",
    "EmptyOperator",
    "ExternalTaskSensor",
    "FailTask",
    "FileSensor",
    "Param",
    "PokeReturnValue",
    "PythonOperator",
    "PythonSensor",
    "ShortCircuitOperator",
    "SkipTask",
    "TaskGroup",
    "TaskInstanceState",
    "TimeDeltaSensor",
    "TradewindError",
    "TriggerDagRunOperator",
    "TriggerRule",
    "XComArg",
    "chain",
    "cross_downstream",
    "dag",
    "get_current_context",
    "mask_secret",
    "task",
    "task_group",
]

#: The module that defines each exported name.
_HOMES = {
    "DAG": "tradewind.sdk.dag",
    "BaseOperator": "tradewind.sdk.baseoperator",
    "BaseSensorOperator": "tradewind.sensors.base",
    "BashOperator": "tradewind.operators.bash",
    "BranchPythonOperator": "tradewind.operators.python",
    "Context": "tradewind.sdk.context",
    "DagRunState": "tradewind.sdk.states",
    "EmptyOperator": "tradewind.operators.empty",
    "ExternalTaskSensor": "tradewind.sensors.external_task",
    "FailTask": "tradewind.exceptions",
    "FileSensor": "tradewind.sensors.filesystem",
    "Param": "tradewind.sdk.param",
    "PokeReturnValue": "tradewind.sensors.base",
    "PythonOperator": "tradewind.operators.python",
    "PythonSensor": "tradewind.sensors.python",
    "ShortCircuitOperator": "tradewind.operators.python",
    "SkipTask": "tradewind.exceptions",
    "TaskGroup": "tradewind.sdk.task_group",
    "TaskInstanceState": "tradewind.sdk.states",
    "TimeDeltaSensor": "tradewind.sensors.time_delta",
    "TradewindError": "tradewind.exceptions",
    "TriggerDagRunOperator": "tradewind.operators.trigger_dagrun",
    "TriggerRule": "tradewind.sdk.trigger_rule",
    "XComArg": "tradewind.sdk.xcom_arg",
    "chain": "tradewind.sdk.dependencies",
    "cross_downstream": "tradewind.sdk.dependencies",
    "dag": "tradewind.sdk.dag",
    "get_current_context": "tradewind.sdk.context",
    "mask_secret": "tradewind.sdk.secrets_masker",
    "task": "tradewind.decorators",
    "task_group": "tradewind.decorators",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_authoring_api() -> None:
    """Import every exported name now: in a process that forks children which import DAG
    files, so that each child finds the API loaded (and shares its memory) instead of
    importing it again."""
    for name in __all__:
        __getattr__(name)
