"""``execute_try``: one try of one task instance and how it ends."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from tradewind import DAG, BashOperator, EmptyOperator, FailTask, PythonOperator, SkipTask, task
from tradewind.runner.runtime import RunInfo
from tradewind.runner.task_execution import TryOutcome, TryRequest, execute_try
from tradewind.runner.xcom_store import MISSING, InMemoryXComStore
from tradewind.sdk.states import TaskInstanceState as TIS
from tradewind.services.dag_test import make_run_info


class Harness:
    """Runs tries of tasks of one DAG against one in-memory XCom store."""

    def __init__(self, dag: DAG) -> None:
        self.dag = dag
        self.run: RunInfo = make_run_info(dag, datetime(2024, 3, 1), {})
        self.xcoms = InMemoryXComStore()

    def execute(self, task_id: str, **request: Any) -> TryOutcome:
        op = self.dag.get_task(task_id)
        request.setdefault("max_tries", op.retries)
        return execute_try(TryRequest(task=op, run=self.run, params={}, **request), self.xcoms)

    def xcom(self, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        return self.xcoms.get(self.dag.dag_id, self.run.run_id, task_id, map_index, key)


def _raise(exc: BaseException) -> Any:
    def raiser() -> None:
        raise exc

    return raiser


def test_success_pushes_the_return_value() -> None:
    with DAG("ok", schedule=None) as dag:
        PythonOperator(task_id="value", python_callable=lambda: {"a": [1, 2]})
        PythonOperator(task_id="none", python_callable=lambda: None)
        PythonOperator(task_id="falsy", python_callable=lambda: 0)
        PythonOperator(task_id="no_push", python_callable=lambda: 5, do_xcom_push=False)
    harness = Harness(dag)
    outcome = harness.execute("value")
    assert outcome.state is TIS.SUCCESS and outcome.error is None
    assert outcome.duration >= 0 and outcome.end_date >= outcome.start_date
    assert harness.xcom("value") == {"a": [1, 2]}
    harness.execute("none")
    assert harness.xcom("none") is MISSING
    harness.execute("falsy")
    assert harness.xcom("falsy") == 0
    harness.execute("no_push")
    assert harness.xcom("no_push") is MISSING


def test_multiple_outputs_push_each_key_and_the_whole_value() -> None:
    with DAG("multi", schedule=None) as dag:

        @task(multiple_outputs=True)
        def split():
            return {"a": 1, "b": [2]}

        @task(multiple_outputs=True)
        def not_a_dict():
            return [1]

        split()
        not_a_dict()
    harness = Harness(dag)
    assert harness.execute("split").state is TIS.SUCCESS
    assert (harness.xcom("split", "a"), harness.xcom("split", "b"), harness.xcom("split")) == (
        1,
        [2],
        {"a": 1, "b": [2]},
    )
    outcome = harness.execute("not_a_dict")
    assert outcome.state is TIS.FAILED and "must return a dict" in (outcome.error or "")


@pytest.mark.parametrize(
    ("exc", "try_number", "retries", "state"),
    [
        (SkipTask("not today"), 1, 2, TIS.SKIPPED),
        (FailTask("bad input"), 1, 2, TIS.FAILED),
        (ValueError("flaky"), 1, 2, TIS.UP_FOR_RETRY),
        (ValueError("flaky"), 2, 2, TIS.UP_FOR_RETRY),
        (ValueError("flaky"), 3, 2, TIS.FAILED),
        (ValueError("no retries"), 1, 0, TIS.FAILED),
        (SystemExit(3), 1, 1, TIS.UP_FOR_RETRY),
        (KeyboardInterrupt(), 1, 3, TIS.FAILED),
    ],
)
def test_how_a_try_ends(exc: BaseException, try_number: int, retries: int, state: TIS) -> None:
    with DAG("ends", schedule=None) as dag:
        PythonOperator(task_id="t", python_callable=_raise(exc), retries=retries)
    outcome = Harness(dag).execute("t", try_number=try_number)
    assert outcome.state is state
    if state in (TIS.FAILED, TIS.UP_FOR_RETRY):
        assert outcome.error and outcome.traceback and "Traceback" in outcome.traceback
    if state is TIS.SKIPPED:
        assert outcome.error == "not today" and outcome.traceback is None


def test_callbacks_receive_the_context() -> None:
    calls: list[tuple[str, str, int]] = []

    def record(kind: str) -> Any:
        return lambda context: calls.append((kind, context["ti"].task_id, context["ti"].try_number))

    callbacks = {
        "on_execute_callback": record("execute"),
        "on_success_callback": [
            record("success"),
            _raise(RuntimeError("callback errors are logged only")),
        ],
        "on_failure_callback": record("failure"),
        "on_retry_callback": record("retry"),
        "on_skipped_callback": record("skipped"),
    }
    with DAG("callbacks", schedule=None, default_args=callbacks) as dag:
        EmptyOperator(task_id="ok")
        PythonOperator(task_id="flaky", python_callable=_raise(ValueError()), retries=1)
        PythonOperator(task_id="skip", python_callable=_raise(SkipTask()))
    harness = Harness(dag)
    assert harness.execute("ok").state is TIS.SUCCESS
    harness.execute("flaky", try_number=1)
    harness.execute("flaky", try_number=2)
    harness.execute("skip")
    assert calls == [
        ("execute", "ok", 1), ("success", "ok", 1),
        ("execute", "flaky", 1), ("retry", "flaky", 1),
        ("execute", "flaky", 2), ("failure", "flaky", 2),
        ("execute", "skip", 1), ("skipped", "skip", 1),
    ]  # fmt: skip


def test_failure_callback_sees_the_exception() -> None:
    seen: list[BaseException] = []
    with DAG("exception_in_context", schedule=None) as dag:
        PythonOperator(
            task_id="t",
            python_callable=_raise(KeyError("k")),
            on_failure_callback=lambda c: seen.append(c["exception"]),
        )
    Harness(dag).execute("t")
    assert isinstance(seen[0], KeyError)


def test_execution_timeout() -> None:
    with DAG("timeouts", schedule=None) as dag:
        PythonOperator(
            task_id="slow",
            python_callable=lambda: time.sleep(10),
            execution_timeout=timedelta(seconds=0.1),
            retries=1,
        )
        BashOperator(
            task_id="slow_bash", bash_command="sleep 10", execution_timeout=timedelta(seconds=0.1)
        )
    harness = Harness(dag)
    started = time.monotonic()
    outcome = harness.execute("slow")
    assert outcome.state is TIS.UP_FOR_RETRY  # a timeout is retried, as in Airflow
    assert "timed out" in (outcome.error or "")
    outcome = harness.execute("slow_bash")
    assert outcome.state is TIS.FAILED and "TaskTimeout" in (outcome.error or "")
    assert time.monotonic() - started < 5  # the bash process was killed, not waited for


def test_mapped_task_instance_runs_its_element() -> None:
    with DAG("mapped", schedule=None) as dag:

        @task
        def double(x, factor):
            return x * factor

        @task
        def numbers():
            return [1, 2, 3]

        double.partial(factor=10).expand(x=numbers())
    harness = Harness(dag)
    harness.execute("numbers")
    outcome = harness.execute("double", map_index=2)
    assert outcome.state is TIS.SUCCESS
    assert harness.xcom("double", map_index=2) == 30
    assert harness.xcom("double", map_index=0) is MISSING
    outcome = harness.execute("double", map_index=3)
    assert outcome.state is TIS.FAILED and "no map index 3" in (outcome.error or "")


def test_a_mapped_task_instance_output_is_not_checked_for_mapping() -> None:
    with DAG("mapped_chain", schedule=None) as dag:

        @task
        def text(x):
            return f"item-{x}"

        @task
        def use(values):
            return values

        use.expand(values=text.expand(x=[1, 2]))
    harness = Harness(dag)
    assert harness.execute("text", map_index=0).state is TIS.SUCCESS
    assert harness.execute("text", map_index=1).state is TIS.SUCCESS


def test_values_that_cannot_be_stored_fail_the_try() -> None:
    with DAG("unstorable", schedule=None) as dag:
        PythonOperator(task_id="t", python_callable=lambda: object())
    outcome = Harness(dag).execute("t")
    assert outcome.state is TIS.FAILED and "cannot store a value of type object" in (
        outcome.error or ""
    )


def test_skipped_tasks_are_reported() -> None:
    with DAG("skips", schedule=None) as dag:

        @task.branch
        def choose():
            return "a"

        choose() >> [EmptyOperator(task_id="a"), EmptyOperator(task_id="b")]
    outcome = Harness(dag).execute("choose")
    assert outcome.state is TIS.SUCCESS and outcome.skipped_task_ids == ["b"]
