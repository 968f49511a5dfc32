"""Dynamic task mapping at definition time: ``partial``/``expand``/``expand_kwargs``."""

from __future__ import annotations

from typing import Any

import pytest

from tradewind import DAG, BashOperator, PythonOperator, XComArg, task
from tradewind.exceptions import DagDefinitionError
from tradewind.sdk.mapped import MappedOperator


def _pull_from(values: dict[tuple[str, str], Any]):  # noqa: ANN202
    return lambda task_id, key: values[(task_id, key)]


def test_classic_operator_partial_expand() -> None:
    with DAG("classic_map", schedule=None, default_args={"retries": 2}) as dag:
        mapped = BashOperator.partial(task_id="echo", env={"A": "1"}, retries=4).expand(
            bash_command=["echo 1", "echo 2"]
        )
    assert isinstance(mapped, MappedOperator) and mapped.is_mapped
    assert dag.get_task("echo") is mapped
    assert mapped.operator_name == "BashOperator"
    assert mapped.retries == 4
    assert mapped.template_fields == BashOperator.template_fields
    assert mapped.mapped_argument_names() == ["bash_command"]
    expansion = mapped.resolve_expansion(_pull_from({}))
    assert expansion == [{"bash_command": "echo 1"}, {"bash_command": "echo 2"}]
    unmapped = mapped.unmap(expansion[1])
    assert isinstance(unmapped, BashOperator)
    assert (unmapped.task_id, unmapped.bash_command, unmapped.env, unmapped.retries) == (
        "echo",
        "echo 2",
        {"A": "1"},
        4,
    )
    assert dag.task_dict["echo"] is not unmapped


def test_expand_over_upstream_output_links_and_resolves() -> None:
    with DAG("upstream_map", schedule=None) as dag:

        @task
        def files():
            return ["a", "b"]

        @task
        def size(name, unit):
            return name

        out = size.partial(unit="kb").expand(name=files())
    mapped = dag.get_task("size")
    assert isinstance(out, XComArg) and out.operator is mapped
    assert mapped.upstream_task_ids == {"files"}
    assert [t.task_id for t in dag.get_task("files").iter_mapped_dependants()] == ["size"]
    expansion = mapped.resolve_expansion(_pull_from({("files", "return_value"): ["x", "y", "z"]}))
    assert expansion == [{"name": "x"}, {"name": "y"}, {"name": "z"}]
    unmapped = mapped.unmap(expansion[2])
    assert unmapped.op_kwargs == {"unit": "kb", "name": "z"}


def test_several_expand_arguments_make_a_cross_product_and_dicts_map_to_pairs() -> None:
    with DAG("product", schedule=None) as dag:

        @task
        def add(x, y):
            return x + y

        @task
        def pair(item):
            return item

        add.expand(x=[1, 2], y=[10, 20, 30])
        pair.expand(item={"a": 1, "b": 2})
    product = dag.get_task("add").resolve_expansion(_pull_from({}))
    assert [(e["x"], e["y"]) for e in product] == [
        (1, 10),
        (1, 20),
        (1, 30),
        (2, 10),
        (2, 20),
        (2, 30),
    ]
    assert dag.get_task("pair").resolve_expansion(_pull_from({})) == [
        {"item": ("a", 1)},
        {"item": ("b", 2)},
    ]


def test_expand_kwargs() -> None:
    with DAG("kwargs_map", schedule=None) as dag:

        @task
        def settings():
            return [{"op_args": [3]}]

        @task
        def add(x, y):
            return x + y

        add.expand_kwargs([{"x": 1, "y": 2}, {"x": 3, "y": 4}])
        PythonOperator.partial(task_id="classic", python_callable=print).expand_kwargs(settings())
    assert dag.get_task("add").resolve_expansion(_pull_from({})) == [
        {"x": 1, "y": 2},
        {"x": 3, "y": 4},
    ]
    classic = dag.get_task("classic")
    assert classic.upstream_task_ids == {"settings"}
    assert classic.resolve_expansion(
        _pull_from({("settings", "return_value"): [{"op_args": [3]}]})
    ) == [{"op_args": [3]}]
    with pytest.raises(DagDefinitionError, match="element 0 is int, not a dict"):
        classic.resolve_expansion(_pull_from({("settings", "return_value"): [3]}))


def test_empty_and_missing_inputs_expand_to_nothing() -> None:
    with DAG("empty_map", schedule=None) as dag:

        @task
        def produce():
            return []

        @task
        def use(x):
            return x

        use.expand(x=produce())
    assert (
        dag.get_task("use").resolve_expansion(_pull_from({("produce", "return_value"): []})) == []
    )
    assert (
        dag.get_task("use").resolve_expansion(_pull_from({("produce", "return_value"): None})) == []
    )
    with pytest.raises(DagDefinitionError, match="cannot map over 'x': its value is int"):
        dag.get_task("use").resolve_expansion(_pull_from({("produce", "return_value"): 5}))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: BashOperator.partial(task_id="b").expand(no_such_arg=[1]),
            "unexpected argument 'no_such_arg'",
        ),
        (
            lambda: BashOperator.partial(task_id="b", env={}).expand(env=[{}]),
            "given both to partial\\(\\) and to expand",
        ),
        (
            lambda: BashOperator.partial(task_id="b").expand(task_id=["x"]),
            "'task_id' cannot be mapped",
        ),
        (
            lambda: BashOperator.partial(task_id="b").expand(bash_command="echo"),
            "must be a list, tuple, dict",
        ),
        (lambda: BashOperator.partial(task_id="b").expand(), "needs at least one argument"),
        (lambda: BashOperator.partial(bash_command="echo"), "needs a task_id"),
        (lambda: BashOperator.partial(task_id="b", bogus=1), "unexpected arguments: bogus"),
        (lambda: BashOperator.partial(task_id="b").expand_kwargs("x"), "takes a list of dicts"),
        (lambda: BashOperator.partial(task_id="b").expand_kwargs([1]), "element 0 is not a dict"),
    ],
)
def test_mapping_mistakes_are_reported_at_definition(build, message: str) -> None:  # noqa: ANN001
    with DAG("mistakes", schedule=None), pytest.raises(DagDefinitionError, match=message):
        build()


def test_decorated_mapping_mistakes() -> None:
    with DAG("decorated_mistakes", schedule=None):

        @task
        def one(x, y=0):
            return x

        with pytest.raises(DagDefinitionError, match="does not take: z"):
            one.expand(z=[1])
        with pytest.raises(
            DagDefinitionError, match="x given both to partial\\(\\) and expand\\(\\)"
        ):
            one.partial(x=1).expand(x=[2])
        with pytest.raises(DagDefinitionError, match="does not take: z"):
            one.expand_kwargs([{"z": 1}])
