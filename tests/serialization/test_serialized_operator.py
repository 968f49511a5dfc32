"""What a deserialized task knows of its operator, and what it refuses to do."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tradewind import serialization
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.mapped import MappedOperator
from tradewind.sdk.param import DagParam
from tradewind.sdk.xcom_arg import XComArg
from tradewind.serialization import (
    ReprValue,
    SerializedMappedOperator,
    SerializedOperator,
    SerializedTaskNotExecutable,
)

from .dag_files import all_dags


def _back(dag_id: str) -> Any:
    return serialization.deserialize_dag(serialization.dumps(all_dags()[dag_id]))


def test_execute_raises_a_clear_error() -> None:
    task = _back("classic").get_task("bash")
    assert isinstance(task, BaseOperator)
    with pytest.raises(
        SerializedTaskNotExecutable, match=r"'bash' \(tradewind.operators.bash.BashOperator\)"
    ):
        task.execute({})


def test_operator_identity_and_looks() -> None:
    back = _back("classic")
    bash = back.get_task("bash")
    assert (bash.task_type, bash.operator_module, bash.operator_name) == (
        "BashOperator",
        "tradewind.operators.bash",
        "BashOperator",
    )
    assert (bash.ui_color, bash.ui_fgcolor) == ("#f0ede4", "#000")
    assert bash.template_fields == ("bash_command", "env", "cwd")
    assert bash.template_ext == (".sh", ".bash")
    assert bash.template_fields_renderers == {"bash_command": "bash", "env": "json"}
    assert repr(bash) == "<Task(BashOperator): bash>"
    assert back.get_task("python").template_ext == (".sql",)  # an instance override is kept
    taskflow = _back("taskflow")
    assert taskflow.get_task("split").operator_name == "@task"
    assert taskflow.get_task("split").task_type == "DecoratedPythonOperator"
    assert taskflow.get_task("choose").operator_name == "@task.branch"


def test_template_values_are_kept_as_written() -> None:
    back = _back("classic")
    bash = back.get_task("bash")
    assert bash.bash_command == "echo {{ ds }} && exit 0"
    assert bash.env == {"B": "2", "A": "1"}
    assert bash.template_values == {
        "bash_command": "echo {{ ds }} && exit 0",
        "env": {"B": "2", "A": "1"},
        "cwd": "/tmp",
    }
    assert back.get_task("script").bash_command == "scripts/run.sh"
    python = back.get_task("python")
    assert python.op_args == [
        1,
        "two",
        3.5,
        None,
        True,
        (4, 5),
        datetime(2024, 1, 2, 3, 4, 5),
        timedelta(days=1, microseconds=7),
    ]
    kwargs = python.op_kwargs
    assert kwargs["names"] == {"alpha", "bravo", "charlie", "delta", "echo"}
    assert kwargs["frozen"] == frozenset({"x", "y", "z"})
    assert kwargs["int_keys"] == {2: "b", 1: "a"}
    assert kwargs["tricky"] == {"__type": "not a tag", "__var": 1}
    assert kwargs["rule"] == "one_failed"
    assert kwargs["inf"] == float("-inf") and kwargs["nan"] != kwargs["nan"]
    # Values with no JSON form are their repr, without memory address or the importer's module hash.
    assert isinstance(kwargs["thing"], ReprValue)
    assert str(kwargs["thing"]) == "<classic.Thing object>"
    assert kwargs["thing"].type_name == "classic.Thing"
    assert repr(kwargs["callback"]) == "<function classic.notify>"
    assert repr(kwargs["lambda"]) == "<function classic.<lambda>>"
    assert repr(kwargs["path"]) == "PosixPath('/data/in.csv')"
    assert repr(kwargs["bytes"]) == repr(b"\x00\x01")
    assert python.templates_dict == {"query": "SELECT {{ ds }}"}


def test_xcom_args_and_dag_params_in_template_values_point_to_deserialized_tasks() -> None:
    back = _back("taskflow")
    summary = back.get_task("summary")
    low, high = summary.op_args
    assert isinstance(low, XComArg) and low.operator is back.get_task("split") and low.key == "low"
    assert high.key == "high"
    assert (
        isinstance(summary.op_kwargs["limit"], DagParam)
        and summary.op_kwargs["limit"].name == "threshold"
    )
    assert back.get_task("summary__1").op_args == [1, 2]
    assert list(back.params) == ["threshold", "label"]
    assert back.params["threshold"] == 10
    assert back.doc_md == "TaskFlow DAG.\n\nIts docstring becomes doc_md."


def test_multiple_outputs_and_scheduling_attributes() -> None:
    back = _back("taskflow")
    assert back.get_task("split").multiple_outputs is True
    assert back.get_task("small").multiple_outputs is False
    big = back.get_task("big")
    assert (big.retries, big.pool) == (3, "big_pool")
    bash = _back("classic").get_task("bash")
    assert bash.retry_delay == timedelta(seconds=90)
    assert bash.max_retry_delay == timedelta(hours=1)
    assert bash.execution_timeout == timedelta(minutes=10)
    assert (bash.pool, bash.pool_slots, bash.priority_weight, bash.weight_rule, bash.queue) == (
        "bash_pool",
        2,
        5,
        "upstream",
        "cpu",
    )
    assert (bash.depends_on_past, bash.wait_for_downstream, bash.do_xcom_push) == (
        True,
        True,
        False,
    )
    assert (bash.max_active_tis_per_dag, bash.max_active_tis_per_dagrun) == (2, 1)
    assert bash.start_date == datetime.fromisoformat("2024-04-01T00:00:00+00:00")
    assert bash.executor_config == {"cpu": 2, "labels": ("a", "b")}
    assert bash.task_display_name == "Run bash"
    assert bash.params["limit"].value == 5 and bash.params["limit"].schema == {"type": "integer"}
    assert bash.owner == "ops" and bash.email == ["ops@example.com"]


def test_callbacks_become_flags() -> None:
    back = _back("classic")
    bash = back.get_task("bash")
    assert (
        bash.has_on_execute_callback and bash.has_on_retry_callback and bash.has_on_skipped_callback
    )
    assert (
        bash.has_on_success_callback and bash.has_on_failure_callback
    )  # the latter from default_args
    start = back.get_task("start")
    assert start.has_on_failure_callback and not start.has_on_success_callback
    assert start.on_failure_callback is None
    assert back.has_on_success_callback and back.has_on_failure_callback
    assert _back("groups").has_on_success_callback is False


def test_empty_operator_and_docs() -> None:
    back = _back("classic")
    assert back.get_task("start").inherits_from_empty_operator is True
    assert back.get_task("start").doc_md == "The start"
    assert back.get_task("python").doc_md == "Plain doc"
    assert back.get_task("bash").inherits_from_empty_operator is False
    assert _back("mapped").get_task("empties").inherits_from_empty_operator is True


def test_sensor_settings() -> None:
    back = _back("sensors")
    file = back.get_task("file")
    assert file.is_sensor and file.reschedule
    assert (file.mode, file.poke_interval, file.timeout, file.soft_fail) == (
        "reschedule",
        300,
        3600,
        True,
    )
    assert (file.exponential_backoff, file.max_wait, file.silent_fail) == (True, 1800, False)
    assert file.filepath == "/data/{{ ds }}/*.csv"
    delta = back.get_task("delta")
    assert (delta.mode, delta.poke_interval, delta.timeout, delta.reschedule) == (
        "poke",
        2.5,
        604800,
        False,
    )
    assert back.get_task("python").silent_fail is True
    assert not _back("classic").get_task("bash").is_sensor
    assert _back("classic").get_task("bash").mode is None
    wait = _back("taskflow").get_task("wait_for_it")
    assert (wait.is_sensor, wait.mode, wait.poke_interval, wait.timeout) == (
        True,
        "reschedule",
        30,
        600,
    )
    mapped = _back("mapped").get_task("sensors")
    assert (mapped.is_sensor, mapped.mode, mapped.poke_interval, mapped.timeout) == (
        True,
        "reschedule",
        60,
        604800,
    )


def _puller(task_id: str, key: str) -> Any:
    outputs = {
        ("make_numbers", "return_value"): [1, 2, 3],
        ("make_kwargs", "return_value"): [{"bash_command": "echo 1"}, {"bash_command": "echo 2"}],
    }
    return outputs[(task_id, key)]


def _shown(expansion: list[dict[str, Any]]) -> str:
    return repr(expansion)


def test_mapped_tasks_resolve_expansion_like_the_originals() -> None:
    original = all_dags()["mapped"]
    back = _back("mapped")
    mapped_ids = [task_id for task_id, task in original.task_dict.items() if task.is_mapped]
    assert len(mapped_ids) == 9
    for task_id in mapped_ids:
        copy = back.get_task(task_id)
        assert isinstance(copy, MappedOperator) and isinstance(copy, SerializedMappedOperator)
        assert copy.operator_class is SerializedOperator
        task = original.get_task(task_id)
        assert copy.mapped_argument_names() == task.mapped_argument_names()
        assert _shown(copy.resolve_expansion(_puller)) == _shown(task.resolve_expansion(_puller)), (
            task_id
        )
    assert back.get_task("over_dict").resolve_expansion(_puller) == [
        {"op_kwargs": ("zulu", {"n": 1})},
        {"op_kwargs": ("alpha", {"n": 2})},
    ]
    assert back.get_task("add").resolve_expansion(_puller) == [{"x": 1}, {"x": 2}, {"x": 3}]
    assert len(back.get_task("add__1").resolve_expansion(_puller)) == 6
    opaque = back.get_task("opaque").resolve_expansion(_puller)
    assert [type(row["op_args"][0]).__name__ for row in opaque] == ["ReprValue", "ReprValue", "int"]


def test_mapped_inputs_reference_deserialized_upstream_tasks() -> None:
    back = _back("mapped")
    over_xcom = back.get_task("add")
    (value,) = over_xcom.expand_input.values()
    assert isinstance(value, XComArg) and value.operator is back.get_task("make_numbers")
    kwargs_xcom = back.get_task("kwargs_xcom")
    assert kwargs_xcom.expand_input is None
    assert kwargs_xcom.expand_kwargs_input.operator is back.get_task("make_kwargs")
    assert over_xcom.mapped_into == "op_kwargs"
    assert over_xcom.partial_kwargs == {"op_args": [], "op_kwargs": {"y": 10}}
    assert back.get_task("over_list").partial_kwargs == {"env": {"A": "1"}}
    assert back.get_task("over_list").retries == 2
    assert back.get_task("over_list").operator_name == "BashOperator"
    assert back.get_task("over_list").template_fields == ("bash_command", "env", "cwd")
    assert back.get_task("over_list").ui_color == "#f0ede4"
    assert repr(back.get_task("over_list")) == "<Task(MappedOperator): over_list>"
    original = all_dags()["mapped"]
    for task_id, task in original.task_dict.items():
        dependants = [t.task_id for t in back.get_task(task_id).iter_mapped_dependants()]
        assert dependants == [t.task_id for t in task.iter_mapped_dependants()]


def test_unmapping_a_deserialized_task_gives_a_serialized_operator() -> None:
    back = _back("mapped")
    mapped = back.get_task("over_list")
    one = mapped.unmap({"bash_command": "echo b"})
    assert isinstance(one, SerializedOperator)
    assert one.bash_command == "echo b" and one.env == {"A": "1"}
    assert (one.task_id, one.retries, one.task_type) == ("over_list", 2, "BashOperator")
    assert one.upstream_task_ids == mapped.upstream_task_ids
    assert back.task_dict["over_list"] is mapped  # not added to the DAG
    add = back.get_task("add").unmap({"x": 2})
    assert add.op_kwargs == {"y": 10, "x": 2}
    owner = back.get_task("empties").unmap({"owner": "bob"})
    assert owner.owner == "bob" and owner.inherits_from_empty_operator
    with pytest.raises(SerializedTaskNotExecutable):
        owner.execute({})
