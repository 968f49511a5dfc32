"""``TaskGroup`` and ``@task_group``: ids, nesting, default_args and dependencies."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tradewind import DAG, EmptyOperator, TaskGroup, task, task_group
from tradewind.exceptions import DagDefinitionError, DuplicateTaskIdError, InvalidIdError


def test_ids_are_prefixed_by_the_groups() -> None:
    with DAG("groups", schedule=None) as dag:
        with TaskGroup("outer") as outer:
            EmptyOperator(task_id="a")
            with TaskGroup("inner") as inner:
                EmptyOperator(task_id="b")
        with TaskGroup("flat", prefix_group_id=False):
            EmptyOperator(task_id="c")
    assert dag.task_ids == ["outer.a", "outer.inner.b", "c"]
    assert (
        inner.group_id == "outer.inner" and inner.label == "inner" and inner.parent_group is outer
    )
    assert dag.get_task("outer.inner.b").label == "b"
    assert [g.group_id for g in dag.task_group.iter_groups()] == ["outer", "outer.inner", "flat"]
    assert [t.task_id for t in outer.iter_tasks()] == ["outer.a", "outer.inner.b"]


def test_group_default_args_overlay_the_dags() -> None:
    with DAG(
        "group_defaults", schedule=None, default_args={"retries": 1, "owner": "dag-owner"}
    ) as dag:
        with (
            TaskGroup("g", default_args={"retries": 3, "retry_delay": timedelta(seconds=1)}),
            TaskGroup("h", default_args={"owner": "h-owner"}),
        ):
            EmptyOperator(task_id="deep")
        EmptyOperator(task_id="outside")
    deep = dag.get_task("g.h.deep")
    assert (deep.retries, deep.retry_delay, deep.owner) == (3, timedelta(seconds=1), "h-owner")
    assert (dag.get_task("outside").retries, dag.get_task("outside").owner) == (1, "dag-owner")


def test_group_edges_attach_to_roots_and_leaves() -> None:
    with DAG("group_edges", schedule=None) as dag:
        start = EmptyOperator(task_id="start")
        with TaskGroup("g") as group:
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            c = EmptyOperator(task_id="c")
            a >> c
            b >> c
        end = EmptyOperator(task_id="end")
        start >> group >> end
    assert [t.task_id for t in group.roots] == ["g.a", "g.b"]
    assert [t.task_id for t in group.leaves] == ["g.c"]
    assert dag.get_task("end").upstream_task_ids == {"g.c"}
    assert dag.get_task("start").downstream_task_ids == {"g.a", "g.b"}
    assert a.task_group is group


def test_task_group_decorator() -> None:
    with DAG("decorated_groups", schedule=None) as dag:

        @task
        def source():
            return 1

        @task_group
        def stage(value):
            @task
            def double(v):
                return v * 2

            return double(value)

        @task_group(group_id="side", tooltip="no return value")
        def side():
            EmptyOperator(task_id="x")

        first = stage(source())
        second = stage(first)
        side_group = side()
        second >> side_group
    assert dag.task_ids == ["source", "stage.double", "stage__1.double", "side.x"]
    assert dag.get_task("stage__1.double").upstream_task_ids == {"stage.double"}
    assert isinstance(side_group, TaskGroup) and side_group.tooltip == "no return value"
    assert dag.get_task("side.x").upstream_task_ids == {"stage__1.double"}


def test_task_group_decorator_checks_arguments() -> None:
    @task_group
    def one_arg(value):
        EmptyOperator(task_id="t")

    with DAG("group_args", schedule=None), pytest.raises(TypeError):
        one_arg()


def test_group_errors() -> None:
    with pytest.raises(DagDefinitionError, match="task group 'g' was created outside any DAG"):
        TaskGroup("g")
    with DAG("group_errors", schedule=None):
        TaskGroup("g")
        with pytest.raises(DuplicateTaskIdError, match="task group id 'g' is already used"):
            TaskGroup("g")
        with pytest.raises(InvalidIdError):
            TaskGroup("bad id")
