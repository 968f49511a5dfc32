"""Tradewind: write workflows as DAGs of tasks in Python; Tradewind schedules and runs them.

Importing this package loads only the authoring API: no database, no configuration files.
"""

from __future__ import annotations

from tradewind.decorators import task, task_group
from tradewind.exceptions import FailTask, SkipTask, TradewindError
from tradewind.operators.bash import BashOperator
from tradewind.operators.empty import EmptyOperator
from tradewind.operators.python import BranchPythonOperator, PythonOperator, ShortCircuitOperator
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
