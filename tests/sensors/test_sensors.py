"""Sensors: poke and reschedule modes, timeouts, soft_fail, backoff and the built-in sensors."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tradewind import (
    DAG,
    BaseSensorOperator,
    EmptyOperator,
    FailTask,
    FileSensor,
    PokeReturnValue,
    PythonSensor,
    SkipTask,
    TimeDeltaSensor,
    task,
)
from tradewind.exceptions import DagDefinitionError
from tradewind.runner.task_execution import TryOutcome, TryRequest, execute_try
from tradewind.runner.xcom_store import MISSING, InMemoryXComStore
from tradewind.sdk import timezone
from tradewind.sdk.states import TaskInstanceState as TIS
from tradewind.services.dag_test import LocalDagRun, make_run_info


class Countdown:
    """A poke callable that is true on poke number ``ready_on``; records when each poke happened."""

    def __init__(self, ready_on: int) -> None:
        self.ready_on = ready_on
        self.times: list[float] = []

    def __call__(self) -> bool:
        self.times.append(time.monotonic())
        return len(self.times) >= self.ready_on

    @property
    def gaps(self) -> list[float]:
        return [later - earlier for earlier, later in itertools.pairwise(self.times)]


def one_try(op: Any, **request: Any) -> tuple[TryOutcome, Any]:
    run = make_run_info(op.dag, datetime(2024, 3, 1), {})
    xcoms = InMemoryXComStore()
    outcome = execute_try(
        TryRequest(task=op, run=run, params=op.dag.params.resolve(run.conf), **request), xcoms
    )
    return outcome, xcoms.get(run.dag_id, run.run_id, op.task_id, -1, "return_value")


def whole_run(dag: DAG, **kwargs: Any) -> dict[str, tuple[str, int]]:
    result = LocalDagRun(dag, make_run_info(dag, datetime(2024, 3, 1), {}), **kwargs).execute()
    return {
        ti.key: (ti.state.value if ti.state else "none", ti.try_number)
        for ti in result.task_instances
    }


def test_poke_mode_pokes_every_poke_interval_in_one_try() -> None:
    countdown = Countdown(ready_on=3)
    with DAG("poke", schedule=None):
        sensor = PythonSensor(task_id="wait", python_callable=countdown, poke_interval=0.05)
    outcome, value = one_try(sensor)
    assert outcome.state is TIS.SUCCESS and value is MISSING
    assert len(countdown.times) == 3 and min(countdown.gaps) >= 0.045


def test_poke_return_value_is_pushed() -> None:
    with DAG("poke_value", schedule=None):
        sensor = PythonSensor(
            task_id="wait",
            python_callable=lambda: PokeReturnValue(True, {"file": "a.csv"}),
            poke_interval=0.05,
        )
        not_done = PythonSensor(
            task_id="not_done",
            python_callable=lambda: PokeReturnValue(False),
            poke_interval=0.05,
            timeout=0.01,
        )
    assert one_try(sensor)[1] == {"file": "a.csv"}
    assert one_try(not_done)[0].state is TIS.FAILED
    assert bool(PokeReturnValue(False, 1)) is False


def test_timeout_fails_without_retry_and_soft_fail_skips() -> None:
    with DAG("timeouts", schedule=None) as dag:
        hard = PythonSensor(
            task_id="hard",
            python_callable=lambda: False,
            poke_interval=0.05,
            timeout=0.15,
            retries=3,
        )
        soft = PythonSensor(
            task_id="soft",
            python_callable=lambda: False,
            poke_interval=0.05,
            timeout=0.15,
            soft_fail=True,
        )
        hard >> EmptyOperator(task_id="after_hard")
        soft >> EmptyOperator(task_id="after_soft")
    outcome, _ = one_try(hard, max_tries=3)
    assert outcome.state is TIS.FAILED and "Sensor has timed out" in (outcome.error or "")
    assert whole_run(dag, use_retry_delay=False) == {
        "hard": ("failed", 1),
        "after_hard": ("upstream_failed", 0),
        "soft": ("skipped", 1),
        "after_soft": ("skipped", 0),
    }


def test_soft_fail_turns_a_failing_poke_into_a_skip() -> None:
    def give_up() -> bool:
        raise FailTask("the source is gone")

    with DAG("soft_poke", schedule=None):
        soft = PythonSensor(
            task_id="soft", python_callable=give_up, poke_interval=0.05, soft_fail=True
        )
        hard = PythonSensor(task_id="hard", python_callable=give_up, poke_interval=0.05)
    assert one_try(soft)[0].state is TIS.SKIPPED
    assert one_try(hard)[0].state is TIS.FAILED


def test_silent_fail_keeps_poking_after_errors_but_not_after_control_flow() -> None:
    attempts: list[int] = []

    def flaky() -> bool:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("not yet")
        return True

    def skip() -> bool:
        raise SkipTask("nothing to wait for")

    with DAG("silent", schedule=None):
        silent = PythonSensor(
            task_id="silent", python_callable=flaky, poke_interval=0.05, silent_fail=True
        )
        loud = PythonSensor(task_id="loud", python_callable=lambda: 1 / 0, poke_interval=0.05)
        skipping = PythonSensor(
            task_id="skipping", python_callable=skip, poke_interval=0.05, silent_fail=True
        )
    assert one_try(silent)[0].state is TIS.SUCCESS and len(attempts) == 3
    assert one_try(loud)[0].state is TIS.FAILED
    assert one_try(skipping)[0].state is TIS.SKIPPED


def test_reschedule_mode_asks_to_be_tried_again() -> None:
    with DAG("reschedule", schedule=None):
        sensor = PythonSensor(
            task_id="wait", python_callable=lambda: False, poke_interval=30, mode="reschedule"
        )
    before = timezone.utcnow()
    outcome, _ = one_try(sensor)
    assert outcome.state is TIS.UP_FOR_RESCHEDULE
    assert outcome.reschedule_date is not None
    assert (
        before + timedelta(seconds=30)
        <= outcome.reschedule_date
        <= timezone.utcnow() + timedelta(seconds=30)
    )


def test_reschedule_timeout_counts_from_the_first_poke() -> None:
    with DAG("reschedule_timeout", schedule=None):
        sensor = PythonSensor(
            task_id="wait",
            python_callable=lambda: False,
            poke_interval=1,
            timeout=60,
            mode="reschedule",
        )
    first_poke = timezone.utcnow() - timedelta(seconds=61)
    outcome, _ = one_try(sensor, sensor_start_date=first_poke, poke_number=5)
    assert outcome.state is TIS.FAILED and "timed out" in (outcome.error or "")


def test_reschedule_mode_in_a_whole_run() -> None:
    countdown = Countdown(ready_on=3)
    with DAG("reschedule_run", schedule=None) as dag:
        PythonSensor(
            task_id="wait", python_callable=countdown, poke_interval=0.05, mode="reschedule"
        ) >> EmptyOperator(task_id="after")
    assert whole_run(dag) == {"wait": ("success", 1), "after": ("success", 1)}
    assert len(countdown.times) == 3 and min(countdown.gaps) >= 0.045


def test_exponential_backoff_doubles_up_to_max_wait() -> None:
    with DAG("backoff", schedule=None):
        plain = PythonSensor(task_id="plain", python_callable=bool, poke_interval=2)
        backoff = PythonSensor(
            task_id="backoff", python_callable=bool, poke_interval=2, exponential_backoff=True
        )
        capped = PythonSensor(
            task_id="capped",
            python_callable=bool,
            poke_interval=2,
            exponential_backoff=True,
            max_wait=timedelta(seconds=5),
        )
    assert [plain.next_poke_interval(n) for n in (1, 2, 3)] == [2, 2, 2]
    assert [backoff.next_poke_interval(n) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert [capped.next_poke_interval(n) for n in (1, 2, 3, 4)] == [2, 4, 5, 5]


def test_exponential_backoff_in_poke_mode() -> None:
    countdown = Countdown(ready_on=4)
    with DAG("backoff_run", schedule=None):
        sensor = PythonSensor(
            task_id="wait", python_callable=countdown, poke_interval=0.03, exponential_backoff=True
        )
    assert one_try(sensor)[0].state is TIS.SUCCESS
    first, second, third = countdown.gaps
    assert first >= 0.03 and second >= 0.06 and third >= 0.12


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "wait"}, "mode must be one of poke, reschedule"),
        ({"poke_interval": -1}, "poke_interval must be a non-negative number"),
        ({"timeout": "long"}, "timeout must be a non-negative number"),
    ],
)
def test_invalid_sensor_arguments(kwargs: dict[str, Any], message: str) -> None:
    with DAG("bad_sensor", schedule=None), pytest.raises(DagDefinitionError, match=message):
        PythonSensor(task_id="s", python_callable=bool, **kwargs)


def test_timedelta_arguments() -> None:
    with DAG("timedeltas", schedule=None):
        sensor = PythonSensor(
            task_id="s",
            python_callable=bool,
            poke_interval=timedelta(seconds=3),
            timeout=timedelta(minutes=1),
        )
    assert (sensor.poke_interval, sensor.timeout, sensor.reschedule) == (3.0, 60.0, False)


def test_base_sensor_needs_poke() -> None:
    with DAG("no_poke", schedule=None):
        sensor = BaseSensorOperator(task_id="s", poke_interval=0.01)
    outcome, _ = one_try(sensor)
    assert outcome.state is TIS.FAILED and "does not implement poke" in (outcome.error or "")


def test_file_sensor(tmp_path: Path) -> None:
    (tmp_path / "data_20240301.csv").write_text("x")
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "full_dir").mkdir()
    (tmp_path / "full_dir" / "part-0").write_text("x")
    with DAG("files", schedule=None, params={"folder": str(tmp_path)}):
        templated = FileSensor(
            task_id="templated",
            filepath="{{ params.folder }}/data_{{ ds_nodash }}.csv",
            poke_interval=0.01,
        )
        glob = FileSensor(task_id="glob", filepath=str(tmp_path / "data_*.csv"), poke_interval=0.01)
        full_dir = FileSensor(
            task_id="full_dir", filepath=str(tmp_path / "full_dir"), poke_interval=0.01
        )
        empty_dir = FileSensor(
            task_id="empty_dir",
            filepath=str(tmp_path / "empty_dir"),
            poke_interval=0.01,
            timeout=0.02,
        )
        missing = FileSensor(
            task_id="missing",
            filepath=str(tmp_path / "nope.csv"),
            poke_interval=0.01,
            timeout=0.02,
            soft_fail=True,
        )
    assert one_try(templated)[0].state is TIS.SUCCESS
    assert one_try(glob)[0].state is TIS.SUCCESS
    assert one_try(full_dir)[0].state is TIS.SUCCESS
    assert one_try(empty_dir)[0].state is TIS.FAILED
    assert one_try(missing)[0].state is TIS.SKIPPED


def test_file_sensor_base_path_from_a_connection(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("x")

    class FsConnection:
        extra_dejson = {"path": str(tmp_path)}

    with DAG("fs_conn", schedule=None) as dag:
        sensor = FileSensor(
            task_id="s",
            filepath="in.csv",
            fs_conn_id="fs_landing",
            poke_interval=0.01,
            timeout=0.02,
        )
    run = make_run_info(dag, datetime(2024, 3, 1), {})
    request = TryRequest(task=sensor, run=run, params={})
    outcome = execute_try(
        request, InMemoryXComStore(), connection_lookup={"fs_landing": FsConnection()}.get
    )
    assert outcome.state is TIS.SUCCESS
    assert (
        execute_try(request, InMemoryXComStore()).state is TIS.FAILED
    )  # no connection: relative path


def test_time_delta_sensor_waits_past_the_data_interval_end() -> None:
    with DAG("delta", schedule="@daily", start_date=datetime(2024, 1, 1)):
        passed = TimeDeltaSensor(task_id="passed", delta=timedelta(hours=1), poke_interval=0.01)
        future = TimeDeltaSensor(
            task_id="future", delta=timedelta(days=365 * 100), poke_interval=0.01, timeout=0.02
        )
    assert one_try(passed)[0].state is TIS.SUCCESS
    assert one_try(future)[0].state is TIS.FAILED


def test_sensor_decorator() -> None:
    countdown = Countdown(ready_on=2)
    with DAG("decorated_sensor", schedule=None) as dag:

        @task.sensor(poke_interval=0.02, timeout=5, mode="reschedule")
        def wait_for_partition(ds=None):
            if countdown():
                return PokeReturnValue(is_done=True, xcom_value=f"partition={ds}")
            return False

        @task
        def use(partition):
            return partition

        use(wait_for_partition())
    xcoms = InMemoryXComStore()
    result = LocalDagRun(dag, make_run_info(dag, datetime(2024, 3, 1), {}), xcoms=xcoms).execute()
    assert {ti.key: ti.state.value for ti in result.task_instances if ti.state} == {
        "wait_for_partition": "success",
        "use": "success",
    }
    assert (
        xcoms.get("decorated_sensor", result.run_id, "use", -1, "return_value")
        == "partition=2024-03-01"
    )
