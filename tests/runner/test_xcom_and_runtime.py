"""XCom encoding and storage, and what a running task sees of itself (``ti``, the context)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tradewind import DAG, EmptyOperator, task
from tradewind.runner import context_builder, xcom_codec
from tradewind.runner.runtime import RunInfo, RuntimeTaskInstance
from tradewind.runner.xcom_store import MISSING, InMemoryXComStore
from tradewind.sdk import macros


@pytest.mark.parametrize(
    "value",
    [
        None, True, 3, 2.5, "text", [1, [2, "x"]], {"a": {"b": None}},
        datetime(2024, 3, 1, 6, tzinfo=UTC), date(2024, 3, 1), timedelta(seconds=90),
        (1, "a", (2,)), {1, 2}, b"\x00\xff", {"when": [datetime(2024, 1, 1, tzinfo=UTC)]},
    ],
)  # fmt: skip
def test_codec_round_trip_keeps_types(value: Any) -> None:
    decoded = xcom_codec.decode(xcom_codec.encode(value))
    assert decoded == value and type(decoded) is type(value)


@pytest.mark.parametrize(
    ("value", "message"), [(object(), "type object"), ({1: "a"}, "keys must be strings")]
)
def test_codec_rejects_what_json_cannot_carry(value: Any, message: str) -> None:
    with pytest.raises(xcom_codec.XComValueError, match=message):
        xcom_codec.encode(value)


def test_in_memory_store_contract() -> None:
    store = InMemoryXComStore()
    store.set("d", "r", "t", -1, "return_value", {"a": 1})
    store.set("d", "r", "t", -1, "return_value", {"a": 2})  # replaces
    assert store.get("d", "r", "t", -1, "return_value") == {"a": 2}
    assert store.get("d", "r", "t", -1, "other") is MISSING
    assert store.get("d", "other_run", "t", -1, "return_value") is MISSING
    for index in (2, 0, 1):
        store.set("d", "r", "m", index, "return_value", index * 10)
    store.set("d", "r", "m", 1, "other", "x")
    assert store.get_mapped("d", "r", "m", "return_value") == [0, 10, 20]
    store.clear("d", "r", "m", 1)
    assert store.get_mapped("d", "r", "m", "return_value") == [0, 20]
    assert store.get("d", "r", "m", 1, "other") is MISSING
    with pytest.raises(xcom_codec.XComValueError):
        store.set("d", "r", "t", -1, "bad", object())


def _run_info(dag_id: str) -> RunInfo:
    logical_date = datetime(2024, 3, 1, tzinfo=UTC)
    return RunInfo(
        dag_id=dag_id, run_id="manual__x", logical_date=logical_date,
        data_interval_start=logical_date - timedelta(days=1),
        data_interval_end=logical_date, run_type="manual", conf={"k": "v"},
    )  # fmt: skip


def test_xcom_pull_variants() -> None:
    with DAG("pulls", schedule=None) as dag:

        @task
        def mapped(x):
            return x

        mapped.expand(x=[1, 2])
        EmptyOperator(task_id="plain")
        EmptyOperator(task_id="other")
    store = InMemoryXComStore()
    run = _run_info("pulls")
    store.set("pulls", run.run_id, "plain", -1, "return_value", "p")
    store.set("pulls", run.run_id, "plain", -1, "extra", "e")
    store.set("pulls", run.run_id, "mapped", 0, "return_value", "m0")
    store.set("pulls", run.run_id, "mapped", 1, "return_value", "m1")
    ti = RuntimeTaskInstance(
        task=dag.get_task("other"), run=run, xcoms=store, try_number=2, max_tries=3
    )
    assert ti.xcom_pull(task_ids="plain") == "p"
    assert ti.xcom_pull(task_ids="plain", key="extra") == "e"
    assert ti.xcom_pull(task_ids="plain", key="missing", default="d") == "d"
    assert ti.xcom_pull(task_ids="missing") is None
    assert ti.xcom_pull(task_ids=["plain", "missing", "mapped"]) == ["p", ["m0", "m1"]]
    assert ti.xcom_pull(task_ids="mapped") == ["m0", "m1"]
    assert ti.xcom_pull(task_ids="mapped", map_indexes=1) == "m1"
    assert ti.xcom_pull(task_ids="mapped", map_indexes=[1, 0, 5]) == ["m1", "m0"]
    ti.xcom_push("mine", [1])
    assert ti.xcom_pull(key="mine") == [1]
    assert store.get("pulls", run.run_id, "other", -1, "mine") == [1]
    assert (ti.dag_id, ti.run_id, ti.task_id, ti.try_number, ti.max_tries) == (
        "pulls",
        "manual__x",
        "other",
        2,
        3,
    )
    assert ti.logical_date == ti.execution_date == run.logical_date
    assert ti.get_dagrun() is run and run.execution_date == run.logical_date
    ti.skip_tasks(["a", "b", "a"])
    assert ti.skipped_task_ids == ["a", "b"]


def test_context_has_airflows_keys() -> None:
    with DAG("ctx", schedule=None) as dag:
        op = EmptyOperator(task_id="t")
    run = _run_info("ctx")
    ti = RuntimeTaskInstance(task=op, run=run, xcoms=InMemoryXComStore(), map_index=3)
    context = context_builder.build_context(ti=ti, run=run, params={"p": 1}, test_mode=True)
    assert context["dag"] is dag and context["task"] is op
    assert context["ti"] is ti and context["task_instance"] is ti
    assert context["dag_run"] is run and context["run_id"] == "manual__x"
    assert context["conf"] == {"k": "v"} and context["params"] == {"p": 1}
    assert (context["ds"], context["ds_nodash"]) == ("2024-03-01", "20240301")
    assert (context["ts"], context["ts_nodash"]) == ("2024-03-01T00:00:00+00:00", "20240301T000000")
    assert context["logical_date"] == context["data_interval_end"] == run.logical_date
    assert context["data_interval_start"] == run.logical_date - timedelta(days=1)
    assert context["prev_data_interval_start_success"] is None
    assert context["macros"] is macros
    assert context["map_index"] == 3 and context["test_mode"] is True
    assert context["var"].value.get("anything", "default") == "default"
    assert context["conn"].get("anything") is None
    with pytest.raises(KeyError, match="Variable nothing does not exist"):
        context["var"].value.nothing  # noqa: B018
    with pytest.raises(KeyError, match="conn_id `nothing` isn't defined"):
        context["conn"].nothing  # noqa: B018
