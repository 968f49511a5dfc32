"""``@task`` and its variants: tasks from functions, XComArgs as dependencies."""

from __future__ import annotations

import pytest

from tradewind import (
    DAG,
    BaseSensorOperator,
    BashOperator,
    BranchPythonOperator,
    EmptyOperator,
    PythonOperator,
    ShortCircuitOperator,
    TaskGroup,
    XComArg,
    task,
)
from tradewind.exceptions import DagDefinitionError
from tradewind.sdk.decorators import infer_multiple_outputs


def test_calling_a_task_returns_its_xcomarg_and_passing_it_links_tasks() -> None:
    with DAG("flow", schedule=None) as dag:

        @task
        def extract():
            return [1, 2]

        @task
        def load(rows, mode="append"):
            return len(rows)

        rows = extract()
        loaded = load(rows, mode="replace")
    assert isinstance(rows, XComArg) and rows.key == "return_value"
    assert rows.operator is dag.get_task("extract")
    op = loaded.operator
    assert isinstance(op, PythonOperator)
    assert op.upstream_task_ids == {"extract"}
    assert op.op_args == [rows] and op.op_kwargs == {"mode": "replace"}
    assert op.python_callable.__name__ == "load"


def test_xcomarg_nested_in_arguments_links_tasks_too() -> None:
    with DAG("nested", schedule=None) as dag:

        @task
        def a():
            return 1

        @task
        def b():
            return 2

        @task
        def combine(values, options):
            return values

        combine([a()], options={"other": b()})
    assert dag.get_task("combine").upstream_task_ids == {"a", "b"}


@pytest.mark.parametrize("decorator", [task, task(), task.python, task.python()])
def test_decorator_spellings(decorator) -> None:  # noqa: ANN001
    with DAG("spellings", schedule=None) as dag:

        def work():
            return 1

        decorator(work)()
    assert dag.task_ids == ["work"]


def test_multiple_outputs() -> None:
    with DAG("outputs", schedule=None) as dag:

        @task(multiple_outputs=True)
        def explicit():
            return {"a": 1}

        @task
        def inferred() -> dict[str, int]:
            return {"b": 2}

        @task
        def a_list() -> list[int]:
            return [1]

        @task
        def use(value):
            return value

        out = explicit()
        use(out["a"])
        inferred()
        a_list()
    assert dag.get_task("explicit").multiple_outputs is True
    assert dag.get_task("inferred").multiple_outputs is True
    assert dag.get_task("a_list").multiple_outputs is False
    pulled = dag.get_task("use").op_args[0]
    assert (pulled.operator.task_id, pulled.key) == ("explicit", "a")
    assert dag.get_task("use").upstream_task_ids == {"explicit"}


def test_infer_multiple_outputs() -> None:
    def mapping() -> dict:  # type: ignore[type-arg]
        return {}

    def unannotated():
        return {}

    def unresolvable() -> "NoSuchType":  # type: ignore[name-defined]  # noqa: F821, UP037
        return {}

    assert infer_multiple_outputs(mapping) is True
    assert infer_multiple_outputs(unannotated) is False
    assert infer_multiple_outputs(unresolvable) is False


def test_xcomarg_key_must_be_a_string_and_cannot_be_iterated() -> None:
    with DAG("keys", schedule=None):

        @task
        def produce():
            return [1]

        out = produce()
    with pytest.raises(TypeError):
        out[0]  # type: ignore[index]  # noqa: B018
    with pytest.raises(TypeError, match="cannot be iterated while the DAG is defined"):
        list(out)
    assert str(out) == "{{ task_instance.xcom_pull(task_ids='produce', key='return_value') }}"
    assert out.serialize() == {"task_id": "produce", "key": "return_value"}
    assert out == XComArg(out.operator) and len({out, XComArg(out.operator)}) == 1


def test_override_changes_operator_arguments() -> None:
    with DAG("override", schedule=None, default_args={"retries": 1}) as dag:

        @task(retries=2)
        def fetch(source):
            return source

        fetch("a")
        fetch.override(task_id="fetch_b", retries=5, trigger_rule="all_done")("b")
        fetch.override(pool="slow")("c")
    assert dag.get_task("fetch").retries == 2
    fetch_b = dag.get_task("fetch_b")
    assert (fetch_b.retries, fetch_b.trigger_rule.value) == (5, "all_done")
    assert (dag.get_task("fetch__1").pool, dag.get_task("fetch__1").retries) == ("slow", 2)


def test_repeated_calls_get_unique_ids() -> None:
    with DAG("repeat", schedule=None) as dag:

        @task
        def step():
            return 1

        step()
        step()
        step()
        with TaskGroup("g"):
            step()
            step()
    assert dag.task_ids == ["step", "step__1", "step__2", "g.step", "g.step__1"]


def test_classic_operator_output() -> None:
    with DAG("classic_output", schedule=None) as dag:
        bash = BashOperator(task_id="bash", bash_command="echo 1")

        @task
        def consume(value, extra):
            return value

        consume(bash.output, extra=bash.output["other_key"])
    consume_op = dag.get_task("consume")
    assert consume_op.upstream_task_ids == {"bash"}
    assert consume_op.op_kwargs["extra"].key == "other_key"


def test_variants_pick_their_operator() -> None:
    with DAG("variants", schedule=None) as dag:

        @task.branch
        def choose():
            return "a"

        @task.short_circuit(ignore_downstream_trigger_rules=False)
        def gate():
            return True

        @task.bash(env={"A": "1"})
        def command():
            return "echo hi"

        @task.sensor(poke_interval=0.5, timeout=10, mode="reschedule")
        def wait():
            return True

        choose()
        gate()
        command()
        wait()
    assert isinstance(dag.get_task("choose"), BranchPythonOperator)
    gate_op = dag.get_task("gate")
    assert (
        isinstance(gate_op, ShortCircuitOperator)
        and gate_op.ignore_downstream_trigger_rules is False
    )
    command_op = dag.get_task("command")
    assert isinstance(command_op, BashOperator) and command_op.env == {"A": "1"}
    wait_op = dag.get_task("wait")
    assert isinstance(wait_op, BaseSensorOperator)
    assert (wait_op.poke_interval, wait_op.timeout, wait_op.mode) == (0.5, 10.0, "reschedule")


def test_arguments_are_checked_against_the_signature() -> None:
    with DAG("signature", schedule=None):

        @task
        def two(a, b, ds=None):
            return a

        two(1)  # missing arguments may come from the context at run time
        with pytest.raises(DagDefinitionError, match="task 'two'"):
            two(1, 2, 3, 4)
        with pytest.raises(DagDefinitionError, match="unexpected keyword argument 'c'"):
            two(1, c=2)


def test_decorating_something_not_callable() -> None:
    with pytest.raises(DagDefinitionError, match="@task decorates functions"):
        task("not a function")


def test_task_outside_a_dag_is_remembered_as_orphan() -> None:
    @task
    def lonely():
        return 1

    out = lonely()
    assert not out.operator.has_dag
    with DAG("adopter", schedule=None) as dag:
        out >> EmptyOperator(task_id="after")
    assert out.operator.dag is dag
