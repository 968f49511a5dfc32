"""TriggerDagRunOperator and ExternalTaskSensor through the scheduler (the task process asks
the scheduler; it never opens the database), and their clear failure under ``dags test``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tradewind.dag_processing import dag_bag
from tradewind.db.models import DagRun, XCom
from tradewind.runner import xcom_codec
from tradewind.runner.log_paths import try_log_path
from tradewind.services.dag_test import LocalDagRun, make_run_info

TARGET = """
    from tradewind import DAG, PythonOperator

    def use_conf(dag_run):
        if dag_run.conf.get("fail"):
            raise ValueError("asked to fail")
        return dag_run.conf["greeting"]

    with DAG("target", schedule=None) as dag:
        PythonOperator(task_id="greet", python_callable=use_conf)
"""

CONTROLLER = """
    from tradewind import DAG, TriggerDagRunOperator

    with DAG("controller", schedule=None) as dag:
        TriggerDagRunOperator(task_id="trigger", trigger_dag_id="target",
                              trigger_run_id="from_controller_{{{{ ds }}}}",
                              conf={conf}, wait_for_completion=True, poke_interval=0.2)
"""


def _xcom(harness, dag_id: str, run_id: str, task_id: str, key: str):
    value = harness.read(
        lambda s: s.scalar(
            select(XCom.value).where(
                XCom.dag_id == dag_id,
                XCom.run_id == run_id,
                XCom.task_id == task_id,
                XCom.key == key,
            )
        )
    )
    return None if value is None else xcom_codec.decode(value)


def test_trigger_dag_run_creates_the_run_and_waits_for_it(harness) -> None:
    harness.write("target.py", TARGET)
    harness.write("controller.py", CONTROLLER.format(conf='{"greeting": "hello {{ ds }}"}'))
    harness.parse()
    run_id = harness.trigger("controller", logical_date=datetime(2024, 3, 1, tzinfo=UTC))
    harness.run_until(harness.run_finished("controller", run_id), timeout=30)
    assert harness.run_state("controller", run_id) == "success"
    (target_run,) = harness.runs("target")
    assert target_run.run_id == "from_controller_2024-03-01"
    assert (target_run.state, target_run.run_type, target_run.triggered_by) == (
        "success",
        "manual",
        "operator",
    )
    assert target_run.conf == {"greeting": "hello 2024-03-01"}
    assert (
        _xcom(harness, "target", target_run.run_id, "greet", "return_value") == "hello 2024-03-01"
    )
    assert (
        _xcom(harness, "controller", run_id, "trigger", "trigger_run_id")
        == "from_controller_2024-03-01"
    )


def test_trigger_dag_run_fails_when_the_triggered_run_fails(harness) -> None:
    harness.write("target.py", TARGET)
    harness.write("controller.py", CONTROLLER.format(conf='{"fail": True}'))
    harness.parse()
    run_id = harness.trigger("controller")
    harness.run_until(harness.run_finished("controller", run_id), timeout=30)
    assert harness.run_state("controller", run_id) == "failed"
    assert [run.state for run in harness.runs("target")] == ["failed"]
    log = try_log_path(
        harness.settings.log_folder, "controller", run_id, "trigger", -1, 1
    ).read_text()
    assert "target failed with failed states failed" in log


def test_trigger_of_an_existing_run_fails_unless_reset(harness) -> None:
    harness.write("target.py", TARGET)
    harness.write(
        "controllers.py",
        """
        from tradewind import DAG, TriggerDagRunOperator
        for dag_id, reset in (("again", False), ("reset", True)):
            with DAG(dag_id, schedule=None) as dag:
                TriggerDagRunOperator(task_id="trigger", trigger_dag_id="target",
                                      trigger_run_id="fixed",
                                      conf={"greeting": dag_id}, reset_dag_run=reset,
                                      wait_for_completion=True,
                                      poke_interval=0.2)
    """,
    )
    harness.parse()
    first = harness.trigger("target", run_id="fixed", conf={"greeting": "first"})
    harness.run_until(harness.run_finished("target", first), timeout=30)
    again = harness.trigger("again")
    harness.run_until(harness.run_finished("again", again), timeout=30)
    assert harness.run_state("again", again) == "failed"
    reset = harness.trigger("reset")
    harness.run_until(harness.run_finished("reset", reset), timeout=30)
    assert harness.run_state("reset", reset) == "success"
    (target_run,) = harness.runs("target")
    assert target_run.clear_number == 1
    assert [(row.task_id, row.try_number, row.state) for row in harness.history("target")] == [
        ("greet", 1, "success"),
        ("greet", 2, "success"),
    ]


def test_external_task_sensor_waits_for_the_other_dag(harness) -> None:
    harness.write(
        "upstream.py",
        """
        import time
        from tradewind import DAG, PythonOperator
        with DAG("upstream", schedule=None) as dag:
            PythonOperator(task_id="produce", python_callable=lambda: time.sleep(0.3))
    """,
    )
    harness.write(
        "downstream.py",
        """
        from datetime import timedelta
        from tradewind import DAG, ExternalTaskSensor, PythonOperator
        with DAG("downstream", schedule=None) as dag:
            task_sensor = ExternalTaskSensor(task_id="wait_task", external_dag_id="upstream",
                                             external_task_id="produce",
                                             mode="reschedule", poke_interval=0.2, timeout=30)
            run_sensor = ExternalTaskSensor(task_id="wait_run", external_dag_id="upstream",
                                            poke_interval=0.2,
                                            timeout=30)
            shifted = ExternalTaskSensor(task_id="wait_yesterday", external_dag_id="upstream",
                                         external_task_ids=["produce"],
                                         execution_delta=timedelta(days=1),
                                         poke_interval=0.2, timeout=30, check_existence=True)
            consume = PythonOperator(task_id="consume", python_callable=lambda: None)
            [task_sensor, run_sensor, shifted] >> consume
    """,
    )
    harness.parse()
    day = datetime(2024, 5, 2, tzinfo=UTC)
    waiting = harness.trigger("downstream", logical_date=day)
    harness.trigger("upstream", logical_date=day)
    harness.trigger("upstream", logical_date=datetime(2024, 5, 1, tzinfo=UTC))
    harness.run_until(harness.run_finished("downstream", waiting), timeout=30)
    assert harness.states("downstream", waiting) == {
        "consume": "success",
        "wait_run": "success",
        "wait_task": "success",
        "wait_yesterday": "success",
    }
    produce = {ti.run_id: ti for ti in harness.tis("upstream")}
    sensor = {ti.task_id: ti for ti in harness.tis("downstream", waiting)}
    assert sensor["wait_task"].end_date >= max(ti.end_date for ti in produce.values())


def test_external_task_sensor_fails_on_failed_states_and_soft_fail_skips(harness) -> None:
    harness.write(
        "upstream.py",
        """
        from tradewind import DAG, PythonOperator
        def fail():
            raise ValueError("no")
        with DAG("upstream", schedule=None) as dag:
            PythonOperator(task_id="produce", python_callable=fail)
    """,
    )
    harness.write(
        "downstream.py",
        """
        from tradewind import DAG, ExternalTaskSensor
        with DAG("downstream", schedule=None) as dag:
            ExternalTaskSensor(task_id="strict", external_dag_id="upstream",
                               external_task_id="produce",
                               failed_states=["failed", "upstream_failed"], poke_interval=0.2,
                               timeout=30)
            ExternalTaskSensor(task_id="soft", external_dag_id="upstream",
                               external_task_id="produce",
                               failed_states=["failed"], soft_fail=True, poke_interval=0.2,
                               timeout=30)
            ExternalTaskSensor(task_id="missing", external_dag_id="no_such_dag",
                               check_existence=True,
                               poke_interval=0.2, timeout=30)
    """,
    )
    harness.parse()
    day = datetime(2024, 5, 2, tzinfo=UTC)
    harness.trigger("upstream", logical_date=day)
    waiting = harness.trigger("downstream", logical_date=day)
    harness.run_until(harness.run_finished("downstream", waiting), timeout=30)
    assert harness.states("downstream", waiting) == {
        "missing": "failed",
        "soft": "skipped",
        "strict": "failed",
    }
    log = try_log_path(
        harness.settings.log_folder, "downstream", waiting, "missing", -1, 1
    ).read_text()
    assert "The external DAG no_such_dag does not exist." in log


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_under_dags_test_they_fail_saying_they_need_the_scheduler(harness, caplog) -> None:
    harness.write(
        "cross.py",
        """
        from tradewind import DAG, ExternalTaskSensor, TriggerDagRunOperator
        with DAG("cross", schedule=None) as dag:
            TriggerDagRunOperator(task_id="trigger", trigger_dag_id="elsewhere", retries=2)
            ExternalTaskSensor(task_id="sense", external_dag_id="elsewhere", poke_interval=0.1,
                               timeout=5)
    """,
    )
    dag, _ = dag_bag.load_dag(harness.folder, "cross")
    result = LocalDagRun(dag, make_run_info(dag, None, {})).execute()
    assert {ti.key: (ti.state.value, ti.try_number) for ti in result.task_instances} == {
        "trigger": ("failed", 1),
        "sense": ("failed", 1),
    }  # failed at once, no retry: it cannot work here
    assert "TriggerDagRunOperator needs the scheduler" in caplog.text
    assert "ExternalTaskSensor needs the scheduler" in caplog.text
    assert harness.read(lambda s: s.scalar(select(DagRun.id))) is None
