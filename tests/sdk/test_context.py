"""Callables receive the context values they name; ``get_current_context``; macros."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tradewind import DAG, PythonOperator, TradewindError, get_current_context, task
from tradewind.runner.task_execution import TryRequest, execute_try
from tradewind.runner.xcom_store import InMemoryXComStore
from tradewind.sdk import macros
from tradewind.sdk.callables import call_with_context, context_kwargs
from tradewind.sdk.context import Context, current_context
from tradewind.sdk.states import TaskInstanceState as TIS
from tradewind.services.dag_test import make_run_info

CONTEXT = {"ds": "2024-03-01", "ti": "the-ti", "params": {"n": 1}, "run_id": "r"}


def test_only_named_context_values_are_passed() -> None:
    def wants(x, ds, ti=None, other="default"):
        return x, ds, ti, other

    assert context_kwargs(wants, [1], {}, CONTEXT) == {"ds": "2024-03-01", "ti": "the-ti"}
    assert call_with_context(wants, [1], {}, CONTEXT) == (1, "2024-03-01", "the-ti", "default")


def test_var_keyword_receives_the_whole_context_and_explicit_kwargs_win() -> None:
    def everything(x, **context):
        return context

    received = call_with_context(everything, [], {"x": 1, "ds": "mine"}, CONTEXT)
    assert received["ds"] == "mine" and received["ti"] == "the-ti" and received["run_id"] == "r"


def test_positional_arguments_are_not_overridden_by_the_context() -> None:
    def positional(ds, /, ti):
        return ds, ti

    def by_position(ds, ti):
        return ds, ti

    assert call_with_context(positional, ["given"], {}, CONTEXT) == ("given", "the-ti")
    assert call_with_context(by_position, ["given"], {}, CONTEXT) == ("given", "the-ti")


def test_get_current_context_outside_a_task() -> None:
    with pytest.raises(TradewindError, match="outside a running task"):
        get_current_context()
    with current_context(Context(ds="x")):
        assert get_current_context()["ds"] == "x"
    with pytest.raises(TradewindError):
        get_current_context()


def test_get_current_context_inside_a_task() -> None:
    with DAG("current", schedule=None) as dag:

        @task
        def inside():
            context = get_current_context()
            return f"{context['ti'].task_id}:{context['ds']}:{context['params']['n']}"

        inside()
    op = dag.get_task("inside")
    run = make_run_info(dag, datetime(2024, 3, 1), {})
    xcoms = InMemoryXComStore()
    outcome = execute_try(TryRequest(task=op, run=run, params={"n": 4}), xcoms)
    assert outcome.state is TIS.SUCCESS
    assert xcoms.get("current", run.run_id, "inside", -1, "return_value") == "inside:2024-03-01:4"


def test_python_operator_callable_gets_context_by_name() -> None:
    seen: dict[str, Any] = {}

    def callable_(ds, ti, dag_run, params, logical_date, data_interval_end, templates_dict):
        seen.update(
            ds=ds,
            task_id=ti.task_id,
            run_id=dag_run.run_id,
            params=params,
            templates_dict=templates_dict,
        )
        seen["logical_date"] = logical_date

    with DAG("by_name", schedule=None, params={"p": 1}) as dag:
        op = PythonOperator(task_id="py", python_callable=callable_)
    run = make_run_info(dag, datetime(2024, 3, 1), {})
    assert (
        execute_try(TryRequest(task=op, run=run, params={"p": 1}), InMemoryXComStore()).state
        is TIS.SUCCESS
    )
    assert seen == {
        "ds": "2024-03-01",
        "task_id": "py",
        "run_id": run.run_id,
        "params": {"p": 1},
        "templates_dict": None,
        "logical_date": run.logical_date,
    }


def test_macros() -> None:
    assert macros.ds_add("2024-01-05", -4) == "2024-01-01"
    assert macros.ds_add("2024-02-28", 1) == "2024-02-29"
    assert macros.ds_add("2024-02-28", 0) == "2024-02-28"
    assert macros.ds_format("2024-01-05", "%Y-%m-%d", "%m-%d-%y") == "01-05-24"
    assert macros.datetime is datetime
    assert macros.timedelta(days=1).days == 1
