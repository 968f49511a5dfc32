"""Dependencies the scheduler resolves at run time: mapped tasks expanded from upstream XCom,
depends_on_past, and sensors in reschedule mode giving their slot back between pokes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tradewind.dag_processing import dag_bag
from tradewind.db.models import XCom
from tradewind.runner import xcom_codec
from tradewind.services.dag_test import LocalDagRun, make_run_info


def test_mapped_task_expands_from_upstream_xcom_like_dags_test(harness) -> None:
    harness.write(
        "mapped.py",
        """
        from tradewind import DAG, task

        with DAG("mapped", schedule=None) as dag:
            @task
            def numbers():
                return [1, 2, 3]

            @task
            def double(x):
                return 2 * x

            @task
            def total(values):
                return sum(values)

            total(double.expand(x=numbers()))
    """,
    )
    harness.parse()
    run_id = harness.trigger("mapped")
    harness.run_until(harness.run_finished("mapped", run_id), timeout=30)
    states = harness.states("mapped", run_id)
    assert states == {
        "numbers": "success",
        "double[0]": "success",
        "double[1]": "success",
        "double[2]": "success",
        "total": "success",
    }
    value = harness.read(
        lambda s: s.scalar(
            select(XCom.value).where(
                XCom.dag_id == "mapped",
                XCom.run_id == run_id,
                XCom.task_id == "total",
                XCom.key == "return_value",
            )
        )
    )
    assert xcom_codec.decode(value) == 12
    dag, _ = dag_bag.load_dag(harness.folder, "mapped")
    local = LocalDagRun(dag, make_run_info(dag, None, {})).execute()
    assert {ti.key: ti.state.value for ti in local.task_instances} == states


def test_depends_on_past_waits_for_the_previous_run(harness) -> None:
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = midnight - timedelta(days=3)
    harness.write(
        "past.py",
        f"""
        from datetime import datetime
        from tradewind import DAG, PythonOperator

        def check(logical_date):
            if logical_date.isoformat() == {(start + timedelta(days=1)).isoformat()!r}:
                raise ValueError("the second day fails")

        with DAG("past", schedule="@daily",
                 start_date=datetime.fromisoformat({start.isoformat()!r}),
                 catchup=True) as dag:
            PythonOperator(task_id="t", python_callable=check, depends_on_past=True)
    """,
    )
    harness.parse()
    harness.run_until(
        lambda: [run.state for run in harness.runs("past")] == ["success", "failed", "running"],
        timeout=30,
        scheduler__max_loop_interval=0.2,
    )
    harness.scheduler(scheduler__max_loop_interval=0.05).run(max_passes=4)
    third = harness.runs("past")[2]
    assert third.state == "running"
    assert harness.states("past", third.run_id) == {"t": None}  # waits for the failed day


def test_reschedule_sensor_frees_its_slot_between_pokes(harness, tmp_path) -> None:
    flag = tmp_path / "flag"
    harness.write(
        "sensing.py",
        f"""
        import os
        from tradewind import DAG, PythonOperator, PythonSensor

        with DAG("sensing", schedule=None) as dag:
            PythonSensor(task_id="wait", python_callable=lambda: os.path.exists({str(flag)!r}),
                         mode="reschedule", poke_interval=0.2, timeout=60)
            PythonOperator(task_id="other",
                           python_callable=lambda: open({str(flag)!r}, "w").close(),
                           priority_weight=0, weight_rule="absolute")
    """,
    )
    harness.parse()
    run_id = harness.trigger("sensing")
    seen: set[str | None] = set()
    harness.run_until(
        harness.run_finished("sensing", run_id),
        timeout=30,
        parallelism=1,
        on_pass=lambda: seen.add(harness.states("sensing", run_id).get("wait")),
    )
    assert "up_for_reschedule" in seen
    assert harness.states("sensing", run_id) == {"other": "success", "wait": "success"}
    wait = next(ti for ti in harness.tis("sensing", run_id) if ti.task_id == "wait")
    other = next(ti for ti in harness.tis("sensing", run_id) if ti.task_id == "other")
    assert wait.try_number == 1  # pokes after a reschedule continue the same try
    assert (
        wait.start_date < other.start_date < wait.end_date
    )  # "other" ran in the slot the sensor gave back
    assert [(row.task_id, row.try_number, row.state) for row in harness.history("sensing")] == [
        ("other", 1, "success"),
        ("wait", 1, "success"),
    ]
