"""Serializing, reading back and serializing again gives the same DAG, for every kind of DAG."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tradewind import serialization
from tradewind.db.models import DagVersion
from tradewind.sdk.dag import DAG
from tradewind.sdk.mapped import MappedOperator
from tradewind.sdk.task_group import TaskGroup
from tradewind.sdk.task_node import BASE_DEFAULTS
from tradewind.sdk.trigger_rule import TriggerRule
from tradewind.serialization import SerializedMappedOperator, SerializedOperator
from tradewind.serialization.serialized_operator import CALLBACK_NAMES
from tradewind.services import dag_runs
from tradewind.timetables import TimeRestriction

from .dag_files import EXAMPLE_FILES, all_dag_ids, all_dags, import_dags

DAG_IDS = all_dag_ids()


def _json_only(value: Any, path: str = "$") -> None:
    """Fail unless ``value`` is made only of str, int,
    float, bool, None, list and str-keyed dict."""
    if value is None or type(value) in (str, int, float, bool):
        return
    if type(value) is list:
        for index, item in enumerate(value):
            _json_only(item, f"{path}[{index}]")
        return
    if type(value) is dict:
        for key, item in value.items():
            assert type(key) is str, f"{path}: key {key!r} is not a str"
            _json_only(item, f"{path}.{key}")
        return
    raise AssertionError(f"{path}: {type(value).__name__} {value!r} is not JSON data")


def _group_tree(group: TaskGroup) -> list[Any]:
    tree: list[Any] = []
    for key, child in group.children.items():
        if isinstance(child, TaskGroup):
            tree.append(
                (
                    key,
                    child.group_id,
                    child.parent_group.group_id if child.parent_group else None,
                    child.label,
                    child.prefix_group_id,
                    child.tooltip,
                    child.ui_color,
                    _group_tree(child),
                )
            )
        else:
            tree.append(
                (
                    key,
                    child.task_id,
                    child.task_group.group_id if child.task_group else None,
                    child.label,
                )
            )
    return tree


@pytest.fixture(params=DAG_IDS)
def dag(request: pytest.FixtureRequest) -> DAG:
    return all_dags()[request.param]


def test_serialized_dag_is_json_data_with_a_version(dag: DAG) -> None:
    data = serialization.serialize_dag(dag)
    _json_only(data)
    assert data["__version"] == serialization.SERIALIZATION_VERSION == 1
    assert json.loads(serialization.dumps(dag)) == data


def test_round_trip_through_data_and_text_is_identical(dag: DAG) -> None:
    data = serialization.serialize_dag(dag)
    text = serialization.dumps(dag)
    from_data = serialization.deserialize_dag(data)
    from_text = serialization.deserialize_dag(text)
    assert serialization.serialize_dag(from_data) == data
    assert serialization.serialize_dag(from_text) == data
    assert serialization.dumps(from_text) == text
    assert (
        serialization.dumps(serialization.deserialize_dag(serialization.dumps(from_text))) == text
    )


def test_stored_edges_give_the_dags_task_order(dag: DAG) -> None:
    """``tasks states-for-dag-run`` orders a run's tasks from the stored JSON, not the DAG."""
    version = DagVersion(serialized_dag=serialization.dumps(dag))
    assert dag_runs.task_order(version) == [t.task_id for t in dag.topological_sort()]


def test_deserialized_dag_has_the_same_graph(dag: DAG) -> None:
    back = serialization.deserialize_dag(serialization.dumps(dag))
    assert type(back) is DAG
    assert list(back.task_dict) == list(dag.task_dict)
    assert [t.task_id for t in back.topological_sort()] == [
        t.task_id for t in dag.topological_sort()
    ]
    assert back.priority_weights() == dag.priority_weights()
    assert [t.task_id for t in back.roots] == [t.task_id for t in dag.roots]
    assert [t.task_id for t in back.leaves] == [t.task_id for t in dag.leaves]
    for task_id, task in dag.task_dict.items():
        copy = back.task_dict[task_id]
        assert copy.upstream_task_ids == task.upstream_task_ids
        assert copy.downstream_task_ids == task.downstream_task_ids
        assert copy.dag is back
        assert copy.label == task.label
    assert _group_tree(back.task_group) == _group_tree(dag.task_group)
    assert back.task_group.used_group_ids == dag.task_group.used_group_ids
    assert [g.group_id for g in back.task_group.iter_groups()] == [
        g.group_id for g in dag.task_group.iter_groups()
    ]
    for group in dag.task_group.iter_groups():
        copy_group = next(g for g in back.task_group.iter_groups() if g.group_id == group.group_id)
        assert [t.task_id for t in copy_group.roots] == [t.task_id for t in group.roots]
        assert [t.task_id for t in copy_group.leaves] == [t.task_id for t in group.leaves]
    back.validate()


def test_deserialized_dag_has_the_same_settings(dag: DAG) -> None:
    back = serialization.deserialize_dag(serialization.dumps(dag))
    for name in (
        "dag_id",
        "dag_display_name",
        "description",
        "doc_md",
        "fileloc",
        "definition_line",
        "tags",
        "start_date",
        "end_date",
        "catchup",
        "max_active_runs",
        "max_active_tasks",
        "dagrun_timeout",
        "template_searchpath",
        "render_template_as_native_obj",
        "is_paused_upon_creation",
        "owner_links",
        "fail_fast",
        "owner",
        "timetable",
        "timezone",
        "access_control",
    ):
        assert getattr(back, name) == getattr(dag, name), name
    assert back.has_on_success_callback is bool(dag.on_success_callback)  # type: ignore[attr-defined]
    assert back.has_on_failure_callback is bool(dag.on_failure_callback)  # type: ignore[attr-defined]
    assert back.on_success_callback is None and back.on_failure_callback is None
    assert list(back.params) == list(dag.params)
    for name in dag.params:
        original, copy = dag.params.get_param(name), back.params.get_param(name)
        assert (copy.value, copy.description, copy.schema) == (
            original.value,
            original.description,
            original.schema,
        )
    if not isinstance(dag.schedule, type(dag.timetable)):
        assert back.schedule == dag.schedule


def test_deserialized_tasks_keep_every_scheduling_attribute(dag: DAG) -> None:
    back = serialization.deserialize_dag(serialization.dumps(dag))
    for task_id, task in dag.task_dict.items():
        copy = back.task_dict[task_id]
        assert isinstance(copy, SerializedMappedOperator if task.is_mapped else SerializedOperator)
        assert copy.is_mapped is task.is_mapped
        for name in BASE_DEFAULTS:
            if name in CALLBACK_NAMES:
                assert getattr(copy, f"has_{name}") is bool(getattr(task, name)), (task_id, name)
                assert getattr(copy, name) is None
            elif name == "params":
                continue  # compared through their serialized form below
            else:
                assert getattr(copy, name) == getattr(task, name), (task_id, name)
        assert isinstance(copy.trigger_rule, TriggerRule)
        original_class = task.operator_class if isinstance(task, MappedOperator) else type(task)
        assert copy.task_type == original_class.__name__
        assert copy.operator_module == original_class.__module__
        assert copy.ui_color == task.ui_color and copy.ui_fgcolor == task.ui_fgcolor
        assert list(copy.template_fields) == list(task.template_fields)  # type: ignore[attr-defined]


@pytest.mark.parametrize("dag_id", [d for d in DAG_IDS if all_dags()[d].timetable.can_be_scheduled])
def test_deserialized_timetable_schedules_the_same_runs(dag_id: str) -> None:
    dag = all_dags()[dag_id]
    back = serialization.deserialize_dag(serialization.dumps(dag))
    restriction = TimeRestriction(dag.start_date, dag.end_date, catchup=True)
    now = datetime(2024, 6, 1, 12, tzinfo=UTC)
    first = dag.timetable.next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction, now=now
    )
    again = back.timetable.next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction, now=now
    )
    assert first == again
    assert first is not None
    following = dag.timetable.next_dagrun_info(
        last_automated_data_interval=first.data_interval,
        restriction=restriction,
        now=now + timedelta(days=30),
    )
    assert following == back.timetable.next_dagrun_info(
        last_automated_data_interval=first.data_interval,
        restriction=restriction,
        now=now + timedelta(days=30),
    )


def test_every_schedule_kind_is_covered() -> None:
    kinds = {type(dag.timetable).__name__ for dag in all_dags().values()}
    assert kinds >= {
        "NullTimetable",
        "OnceTimetable",
        "ContinuousTimetable",
        "CronDataIntervalTimetable",
        "CronTriggerTimetable",
        "DeltaDataIntervalTimetable",
    }
    timezones = {serialization.serialize_dag(dag)["timezone"] for dag in all_dags().values()}
    assert {"UTC", "Asia/Seoul", "America/New_York", "+09:00"} <= timezones


def test_every_trigger_rule_survives() -> None:
    back = serialization.deserialize_dag(serialization.dumps(all_dags()["classic"]))
    for rule in TriggerRule:
        assert back.get_task(f"join_{rule.value}").trigger_rule is rule


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda path: Path(path).name)
def test_example_dags_round_trip(path: Path) -> None:
    dags = import_dags(path)
    assert dags
    for dag in dags:
        text = serialization.dumps(dag)
        back = serialization.deserialize_dag(text)
        assert serialization.dumps(back) == text
        assert [t.task_id for t in back.topological_sort()] == [
            t.task_id for t in dag.topological_sort()
        ]
        assert back.priority_weights() == dag.priority_weights()
