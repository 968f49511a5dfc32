"""Sensors of each kind and mode."""

from __future__ import annotations

from datetime import datetime, timedelta

from tradewind import DAG, FileSensor, PythonSensor, TimeDeltaSensor


def ready() -> bool:
    return True


with DAG("sensors", schedule="@once", start_date=datetime(2024, 1, 1)):
    file = FileSensor(
        task_id="file",
        filepath="/data/{{ ds }}/*.csv",
        mode="reschedule",
        poke_interval=timedelta(minutes=5),
        timeout=3600,
        exponential_backoff=True,
        max_wait=timedelta(minutes=30),
        soft_fail=True,
    )
    delta = TimeDeltaSensor(task_id="delta", delta=timedelta(hours=1), poke_interval=2.5)
    python = PythonSensor(
        task_id="python", python_callable=ready, silent_fail=True, op_kwargs={"x": 1}
    )
    file >> delta >> python
