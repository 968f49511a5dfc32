"""Reading back bad data fails with a clear error; reading back never disturbs DAG file loading."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any

import pytest

from tradewind import DAG, EmptyOperator, serialization
from tradewind.sdk import definition_context
from tradewind.serialization import SerializationError

from .dag_files import all_dags


def _data(dag_id: str = "classic") -> dict[str, Any]:
    return copy.deepcopy(serialization.serialize_dag(all_dags()[dag_id]))


def test_other_layout_version_is_refused() -> None:
    data = _data()
    data["__version"] = 2
    with pytest.raises(SerializationError, match="layout version 2"):
        serialization.deserialize_dag(data)


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"a string"'])
def test_not_a_serialized_dag(text: str) -> None:
    with pytest.raises(SerializationError):
        serialization.deserialize_dag(text)


def test_reference_to_unknown_task() -> None:
    data = _data("taskflow")
    summary = next(task for task in data["tasks"] if task["task_id"] == "summary")
    summary["template_values"]["op_args"][0]["__var"]["task_id"] = "ghost"
    with pytest.raises(
        SerializationError, match="cannot read serialized DAG 'taskflow'.*unknown task 'ghost'"
    ):
        serialization.deserialize_dag(data)


def test_one_sided_edge() -> None:
    data = _data()
    data["tasks"][0]["downstream_task_ids"].append("left")
    with pytest.raises(SerializationError, match="stored on one side only"):
        serialization.deserialize_dag(data)


def test_task_missing_from_group_tree() -> None:
    data = _data("groups")
    data["task_group"]["children"].remove("begin")
    with pytest.raises(SerializationError, match="missing from the task group tree: begin"):
        serialization.deserialize_dag(data)


def test_missing_key_names_the_dag() -> None:
    data = _data("sensors")
    del data["timetable"]
    with pytest.raises(SerializationError, match="cannot read serialized DAG 'sensors': KeyError"):
        serialization.deserialize_dag(json.dumps(data))


def test_invalid_stored_value_is_reported() -> None:
    data = _data("sensors")
    data["tasks"][0]["trigger_rule"] = "sometimes"
    with pytest.raises(SerializationError, match="unknown trigger rule"):
        serialization.deserialize_dag(data)


def test_deserializing_does_not_register_dags_or_touch_an_open_dag() -> None:
    text = serialization.dumps(all_dags()["groups"])
    definition_context.take_created_dags()
    definition_context.take_orphans()
    with DAG("being_defined", schedule=None, start_date=datetime(2024, 1, 1)) as open_dag:
        EmptyOperator(task_id="mine")
        back = serialization.deserialize_dag(text)
        EmptyOperator(task_id="also_mine")
    assert list(open_dag.task_dict) == ["mine", "also_mine"]
    assert all(task.dag is back for task in back.tasks)
    assert definition_context.take_created_dags() == [open_dag]
    assert definition_context.take_orphans() == []
