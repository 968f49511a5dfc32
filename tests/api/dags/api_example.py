"""DAGs the REST API tests read: a small pipeline with params, and a mapped task."""

from __future__ import annotations

from datetime import datetime, timedelta

from tradewind import DAG, BashOperator, Param, task

with DAG(
    "api_example",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["example", "api"],
    description="Extract, transform, load.",
    params={"n": Param(1, type="integer", minimum=1)},
    default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
) as api_example:

    @task
    def extract():
        return {"rows": 3, "password": "hunter2"}

    @task
    def transform(data):
        return data["rows"] * 2

    load = BashOperator(task_id="load", bash_command="echo loading && echo done")
    transform(extract()) >> load

with DAG(
    "api_mapped", schedule=None, start_date=datetime(2024, 1, 1), tags=["mapped"]
) as api_mapped:

    @task
    def numbers():
        return [1, 2, 3]

    @task
    def double(x):
        return 2 * x

    double.expand(x=numbers())
