"""The DAGs of the browser test: ``ui_e2e`` runs a task group of two Python tasks and, beside it,
a slow task that prints for a few seconds (so the test can follow its log); ``ui_e2e_params``
has params, for the trigger form."""

from __future__ import annotations

import time
from datetime import datetime

from tradewind import DAG, EmptyOperator, Param, TaskGroup, task

with DAG(
    "ui_e2e",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["e2e", "ui"],
    default_args={"owner": "browser"},
) as dag:
    start = EmptyOperator(task_id="start")
    with TaskGroup("work", tooltip="the real work") as work:

        @task
        def greet() -> int:
            print("hello from the browser test")
            return 42

        @task
        def check(value: int) -> None:
            print(f"greet returned {value}")

        check(greet())

    @task
    def slow() -> None:
        for tick in range(1, 9):
            print(f"tick {tick}", flush=True)
            time.sleep(0.5)

    end = EmptyOperator(task_id="end")
    start >> work >> end
    start >> slow() >> end


with DAG(
    "ui_e2e_params",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    tags=["e2e"],
    params={
        "rows": Param(10, type="integer", minimum=1, description="Rows to load"),
        "mode": Param("full", enum=["full", "incremental"]),
    },
) as with_params:
    EmptyOperator(task_id="noop")
