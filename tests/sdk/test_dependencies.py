"""``>>``, ``<<``, lists on either side, ``chain``, ``cross_downstream``, ``set_upstream``."""

from __future__ import annotations

import pytest

from tradewind import DAG, EmptyOperator, TaskGroup, chain, cross_downstream, task
from tradewind.exceptions import DagDefinitionError


def edges(dag: DAG) -> set[tuple[str, str]]:
    return {(up, task.task_id) for task in dag.tasks for up in task.upstream_task_ids}


def ops(*names: str) -> list[EmptyOperator]:
    return [EmptyOperator(task_id=name) for name in names]


def test_shift_operators_and_their_return_values() -> None:
    with DAG("shifts", schedule=None) as dag:
        a, b, c, d, e = ops("a", "b", "c", "d", "e")
        assert (a >> b) is b
        assert (d << c) is c
        result = b >> [c, d]
        assert result == [c, d]
        [c, d] >> e
        e << a
    assert edges(dag) == {
        ("a", "b"),
        ("b", "c"),
        ("b", "d"),
        ("c", "d"),
        ("c", "e"),
        ("d", "e"),
        ("a", "e"),
    }
    assert b.downstream_task_ids == {"c", "d"} and e.upstream_task_ids == {"a", "c", "d"}
    assert [t.task_id for t in e.upstream_list] == ["a", "c", "d"]
    assert [t.task_id for t in b.downstream_list] == ["c", "d"]


def test_list_on_the_left_of_either_operator() -> None:
    with DAG("lists", schedule=None) as dag:
        a, b, c, d = ops("a", "b", "c", "d")
        [a, b] >> c
        [a, b] << d  # d >> a, d >> b
    assert edges(dag) == {("a", "c"), ("b", "c"), ("d", "a"), ("d", "b")}


def test_set_upstream_and_downstream() -> None:
    with DAG("setters", schedule=None) as dag:
        a, b, c, d = ops("a", "b", "c", "d")
        b.set_upstream(a)
        b.set_downstream([c, d])
        d.set_upstream([a])
    assert edges(dag) == {("a", "b"), ("b", "c"), ("b", "d"), ("a", "d")}
    assert a.get_flat_relative_ids() == {"b", "c", "d"}
    assert d.get_flat_relative_ids(upstream=True) == {"a", "b"}


def test_chain() -> None:
    with DAG("chained", schedule=None) as dag:
        a, b1, b2, c1, c2, d = ops("a", "b1", "b2", "c1", "c2", "d")
        chain(a, [b1, b2], [c1, c2], d)
    assert edges(dag) == {
        ("a", "b1"),
        ("a", "b2"),
        ("b1", "c1"),
        ("b2", "c2"),
        ("c1", "d"),
        ("c2", "d"),
    }


def test_chain_of_lists_of_different_lengths() -> None:
    with DAG("bad_chain", schedule=None):
        a, b, c = ops("a", "b", "c")
        with pytest.raises(ValueError, match="equal lengths, got 2 and 1"):
            chain([a, b], [c])


def test_cross_downstream() -> None:
    with DAG("crossed", schedule=None) as dag:
        a, b, c, d = ops("a", "b", "c", "d")
        cross_downstream([a, b], [c, d])
    assert edges(dag) == {("a", "c"), ("a", "d"), ("b", "c"), ("b", "d")}


def test_xcomargs_and_groups_take_part_in_dependencies() -> None:
    with DAG("mixed", schedule=None) as dag:

        @task
        def produce():
            return 1

        start = EmptyOperator(task_id="start")
        with TaskGroup("group") as group:
            first, second = ops("first", "second")
            first >> second
        out = produce()
        start >> group >> out
        chain(out, EmptyOperator(task_id="end"))
    assert edges(dag) == {
        ("start", "group.first"),
        ("group.first", "group.second"),
        ("group.second", "produce"),
        ("produce", "end"),
    }


def test_dependency_on_something_else_is_a_type_error() -> None:
    with DAG("typed", schedule=None):
        (a,) = ops("a")
        with pytest.raises(TypeError, match="cannot set a dependency"):
            a >> "b"
        with pytest.raises(TypeError):
            a >> [1]


def test_tasks_of_two_dags_cannot_be_linked() -> None:
    with DAG("one", schedule=None):
        (a,) = ops("a")
    with DAG("two", schedule=None):
        (b,) = ops("b")
    with pytest.raises(
        DagDefinitionError, match="between tasks of two DAGs: 'a' in 'one' and 'b' in 'two'"
    ):
        a >> b


def test_two_tasks_outside_any_dag_cannot_be_linked() -> None:
    a, b = ops("a", "b")
    with pytest.raises(DagDefinitionError, match="are not in any DAG"):
        a >> b
