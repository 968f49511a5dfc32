"""``PythonOperator``, branching (``BranchPythonOperator``,
``@task.branch``), short-circuiting, empty."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tradewind import (
    DAG,
    BranchPythonOperator,
    EmptyOperator,
    PythonOperator,
    ShortCircuitOperator,
    TaskGroup,
    task,
)
from tradewind.runner.xcom_store import MISSING, InMemoryXComStore
from tradewind.services.dag_test import LocalDagRun, make_run_info


def run_tasks(dag: DAG) -> tuple[dict[str, str], dict[str, Any]]:
    xcoms = InMemoryXComStore()
    run = make_run_info(dag, datetime(2024, 3, 1), {})
    result = LocalDagRun(dag, run, xcoms=xcoms, use_retry_delay=False).execute()
    states = {ti.key: ti.state.value for ti in result.task_instances if ti.state}
    values = {
        ti.key: xcoms.get(dag.dag_id, run.run_id, ti.task_id, ti.map_index, "return_value")
        for ti in result.task_instances
    }
    return states, values


def test_python_operator_args_kwargs_and_context() -> None:
    def compute(a, b, *, scale, ds, ti):
        return f"{(a + b) * scale}:{ds}:{ti.task_id}"

    with DAG("python", schedule=None) as dag:
        PythonOperator(
            task_id="py", python_callable=compute, op_args=[1, 2], op_kwargs={"scale": 10}
        )
        PythonOperator(
            task_id="quiet", python_callable=lambda: "secret", show_return_value_in_logs=False
        )
    states, values = run_tasks(dag)
    assert states == {"py": "success", "quiet": "success"}
    assert values == {"py": "30:2024-03-01:py", "quiet": "secret"}


@pytest.mark.parametrize(
    ("follow", "expected"),
    [
        ("a", {"a": "success", "b": "skipped", "c": "skipped"}),
        (["a", "c"], {"a": "success", "b": "skipped", "c": "success"}),
        (None, {"a": "skipped", "b": "skipped", "c": "skipped"}),
        ([], {"a": "skipped", "b": "skipped", "c": "skipped"}),
    ],
)
def test_branch_follows_the_returned_ids(follow: Any, expected: dict[str, str]) -> None:
    with DAG("branch", schedule=None) as dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: follow)
        branch >> [EmptyOperator(task_id=name) for name in "abc"]
    states, values = run_tasks(dag)
    assert states == {"branch": "success", **expected}
    assert values["branch"] == (MISSING if follow is None else follow)


def test_branch_to_a_task_group_follows_its_roots() -> None:
    with DAG("branch_group", schedule=None) as dag:

        @task.branch
        def choose():
            return "fast_path"

        with TaskGroup("fast_path") as fast:
            first = EmptyOperator(task_id="first")
            first >> EmptyOperator(task_id="second")
        with TaskGroup("slow_path") as slow:
            EmptyOperator(task_id="only")
        join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
        choose() >> [fast, slow] >> join
    assert run_tasks(dag)[0] == {
        "choose": "success",
        "fast_path.first": "success",
        "fast_path.second": "success",
        "slow_path.only": "skipped",
        "join": "success",
    }


def test_branch_to_a_task_further_downstream_skips_the_direct_ones() -> None:
    # Only direct downstream tasks are skipped; a followed task that is not directly downstream
    # still runs when its own upstream allows it (here it has none_failed).
    with DAG("branch_far", schedule=None) as dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "far")
        near = EmptyOperator(task_id="near")
        far = EmptyOperator(task_id="far", trigger_rule="none_failed")
        branch >> near >> far
    assert run_tasks(dag)[0] == {"branch": "success", "near": "skipped", "far": "success"}


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("nope", "not a task or task group"),
        (5, "a branch callable must return"),
        ([5], "must be a task id"),
    ],
)
def test_branch_to_something_that_is_not_a_task_fails(returned: Any, message: str) -> None:
    with DAG("branch_bad", schedule=None) as dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: returned)
        branch >> EmptyOperator(task_id="a")
    assert run_tasks(dag)[0] == {"branch": "failed", "a": "upstream_failed"}


def test_branch_decorator_skips_and_propagates() -> None:
    with DAG("branch_decorated", schedule=None) as dag:

        @task.branch
        def choose(ds=None):
            return "weekday" if ds == "2024-03-01" else "weekend"

        weekday = EmptyOperator(task_id="weekday")
        weekend = EmptyOperator(task_id="weekend")
        after_weekend = EmptyOperator(task_id="after_weekend")
        join = EmptyOperator(task_id="join")
        choose() >> [weekday, weekend]
        weekend >> after_weekend
        [weekday, after_weekend] >> join
    assert run_tasks(dag)[0] == {
        "choose": "success",
        "weekday": "success",
        "weekend": "skipped",
        "after_weekend": "skipped",
        # all_success after a skip: Airflow's reason to use none_failed_min_one_success
        "join": "skipped",
    }


@pytest.mark.parametrize(
    ("ignore", "expected"),
    [
        (True, {"direct": "skipped", "later": "skipped", "always": "skipped"}),
        (False, {"direct": "skipped", "later": "skipped", "always": "success"}),
    ],
)
def test_short_circuit(ignore: bool, expected: dict[str, str]) -> None:
    with DAG("short", schedule=None) as dag:
        gate = ShortCircuitOperator(
            task_id="gate", python_callable=lambda: 0, ignore_downstream_trigger_rules=ignore
        )
        direct = EmptyOperator(task_id="direct")
        (
            gate
            >> direct
            >> [
                EmptyOperator(task_id="later"),
                EmptyOperator(task_id="always", trigger_rule="always"),
            ]
        )
    states, values = run_tasks(dag)
    assert states == {"gate": "success", **expected}
    assert values["gate"] == 0  # the condition is the XCom, falsy or not


def test_short_circuit_truthy_value_lets_everything_run() -> None:
    with DAG("short_true", schedule=None) as dag:

        @task.short_circuit
        def rows():
            return ["r1"]

        rows() >> EmptyOperator(task_id="after")
    states, values = run_tasks(dag)
    assert states == {"rows": "success", "after": "success"}
    assert values["rows"] == ["r1"]


def test_short_circuit_without_downstream_tasks() -> None:
    with DAG("short_alone", schedule=None) as dag:
        ShortCircuitOperator(task_id="gate", python_callable=lambda: False)
    assert run_tasks(dag)[0] == {"gate": "success"}


def test_empty_operator() -> None:
    with DAG("empty", schedule=None) as dag:
        op = EmptyOperator(task_id="e")
    assert op.inherits_from_empty_operator
    assert run_tasks(dag) == ({"e": "success"}, {"e": MISSING})
