"""A sensor in ``reschedule`` mode on Celery workers: each poke is a new message of the same
try, so each must be started again through the execution API (the earlier poke's ``started``
event must not refuse it), and the try number stays the same across pokes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tradewind.db.models import TaskInstance

pytestmark = [pytest.mark.slow]

SENSOR = """
    from pathlib import Path

    from tradewind import DAG, PythonOperator
    from tradewind.sensors.python import PythonSensor

    POKES = Path({pokes!r})

    def third_poke_succeeds():
        with POKES.open("a") as handle:
            handle.write("poke\\n")
        return len(POKES.read_text().splitlines()) >= 3

    with DAG("waits", schedule=None) as dag:
        wait = PythonSensor(
            task_id="wait", python_callable=third_poke_succeeds, mode="reschedule",
            poke_interval=0.5, timeout=120,
        )
        wait >> PythonOperator(task_id="after", python_callable=lambda: "done")
"""


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_rescheduled_sensor_pokes_again_on_workers_at_the_same_try(
    celery_deployment, tmp_path: Path
) -> None:
    d = celery_deployment
    pokes = tmp_path / "pokes.txt"
    d.write("waits.py", SENSOR.format(pokes=str(pokes)))
    d.parse()
    d.start_api()
    d.start_worker("w1", "-c", "2")
    d.start_worker("w2", "-c", "2")
    d.start("scheduler")
    assert d.cli("dags", "trigger", "waits", "--run-id", "r1").returncode == 0
    final = d.ended_run("waits", "r1", 90)
    tails = [d.output(p)[-2000:] for p in d.processes]
    assert final["state"] == "success", (final, tails)
    assert pokes.read_text().splitlines() == ["poke"] * 3
    rows = d.read(
        lambda s: {
            row.task_id: (row.state, row.try_number)
            for row in s.scalars(select(TaskInstance).where(TaskInstance.run_id == "r1"))
        }
    )
    assert rows == {"wait": ("success", 1), "after": ("success", 1)}
