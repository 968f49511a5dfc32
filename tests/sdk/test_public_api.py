"""What DAG authors import, and what importing it costs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import tradewind

AUTHORING_NAMES = [
    "DAG", "dag", "task", "task_group", "TaskGroup", "BaseOperator", "BashOperator",
    "PythonOperator",
    "BranchPythonOperator", "ShortCircuitOperator", "EmptyOperator", "PythonSensor", "FileSensor",
    "TimeDeltaSensor", "BaseSensorOperator", "PokeReturnValue", "Param", "TriggerRule", "SkipTask",
    "FailTask", "chain", "cross_downstream", "get_current_context", "XComArg",
]  # fmt: skip

HOME_MODULES = {
    "tradewind.operators.bash": ["BashOperator"],
    "tradewind.operators.python": [
        "PythonOperator",
        "BranchPythonOperator",
        "ShortCircuitOperator",
    ],
    "tradewind.operators.empty": ["EmptyOperator"],
    "tradewind.sensors.base": ["BaseSensorOperator", "PokeReturnValue"],
    "tradewind.sensors.python": ["PythonSensor"],
    "tradewind.sensors.filesystem": ["FileSensor"],
    "tradewind.sensors.time_delta": ["TimeDeltaSensor"],
    "tradewind.sdk.dag": ["DAG", "dag"],
    "tradewind.sdk.baseoperator": ["BaseOperator"],
    "tradewind.sdk.task_group": ["TaskGroup", "task_group"],
    "tradewind.sdk.param": ["Param"],
    "tradewind.sdk.trigger_rule": ["TriggerRule"],
    "tradewind.sdk.xcom_arg": ["XComArg"],
    "tradewind.sdk.dependencies": ["chain", "cross_downstream"],
    "tradewind.sdk.context": ["get_current_context"],
    "tradewind.exceptions": ["SkipTask", "FailTask"],
    "tradewind.decorators": ["task", "task_group"],
}


@pytest.mark.parametrize("name", AUTHORING_NAMES)
def test_authoring_name_is_exported(name: str) -> None:
    assert name in tradewind.__all__
    assert getattr(tradewind, name) is not None


@pytest.mark.parametrize(("module", "names"), sorted(HOME_MODULES.items()))
def test_names_import_from_their_own_module(module: str, names: list[str]) -> None:
    loaded = importlib.import_module(module)
    for name in names:
        assert getattr(loaded, name) is getattr(tradewind, name)


def test_airflow_spellings_of_control_flow() -> None:
    from tradewind import exceptions

    assert exceptions.AirflowSkipException is tradewind.SkipTask
    assert exceptions.AirflowFailException is tradewind.FailTask


def test_every_exported_name_exists() -> None:
    for name in tradewind.__all__:
        assert hasattr(tradewind, name), name


PROBE = """
import json, sys, time
started = time.perf_counter()
import tradewind
elapsed = time.perf_counter() - started
print(json.dumps({"modules": sorted(sys.modules), "seconds": elapsed}))
"""


def test_import_loads_only_the_authoring_api() -> None:
    """A fresh interpreter: ``import tradewind`` pulls in no database, server or Jinja code."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    modules = set(json.loads(out)["modules"])
    forbidden_roots = {
        "sqlalchemy",
        "alembic",
        "psycopg",
        "jinja2",
        "click",
        "croniter",
        "cryptography",
    }
    assert not {m for m in modules if m.split(".")[0] in forbidden_roots}
    forbidden_packages = ("tradewind.db", "tradewind.api", "tradewind.scheduler",
                          "tradewind.services", "tradewind.cli", "tradewind.executors",
                          "tradewind.runner", "tradewind.dag_processing")  # fmt: skip
    assert not {m for m in modules if m.startswith(forbidden_packages)}
