"""TaskFlow: @dag with params from arguments, multiple_outputs, branches, bash, sensors."""

from __future__ import annotations

from datetime import datetime, timedelta

from tradewind import dag, task
from tradewind.sensors.base import PokeReturnValue


@dag(schedule=timedelta(hours=6), start_date=datetime(2024, 1, 1), catchup=False, tags=["taskflow"])
def taskflow(threshold: int = 10, label: str = "run"):
    """TaskFlow DAG.

    Its docstring becomes doc_md.
    """

    @task(multiple_outputs=True)
    def split() -> dict[str, int]:
        return {"low": 1, "high": 20}

    @task
    def summary(low: int, high: int, limit: int, name: str) -> str:
        return f"{name}: {low}..{high} / {limit}"

    @task.branch
    def choose(text: str) -> str:
        return "big" if "20" in text else "small"

    @task(task_id="big", retries=3, pool="big_pool")
    def big() -> None:
        return None

    @task
    def small() -> None:
        return None

    @task.short_circuit
    def keep_going() -> bool:
        return True

    @task.bash(env={"X": "1"})
    def shout(word: str) -> str:
        return f"echo {word}"

    @task.sensor(poke_interval=timedelta(seconds=30), timeout=600, mode="reschedule")
    def wait_for_it() -> PokeReturnValue:
        return PokeReturnValue(is_done=True, xcom_value=1)

    parts = split()
    text = summary(parts["low"], parts["high"], limit=threshold, name=label)
    choice = choose(text)
    choice >> [big(), small()]
    again = summary(1, 2, limit=3, name="again")  # same function twice: summary__1
    keep_going() >> shout(text) >> wait_for_it() >> again


taskflow()
