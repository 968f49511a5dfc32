"""Task groups: ``with TaskGroup``, nested groups, ``@task_group`` called twice, group default_args.

Task ids get the group ids as prefixes (``extract.orders``, ``transform.clean.dedupe``); the
second call of ``@task_group`` gets the id ``region__1``. ``transform.validate`` fails on its
first try and the group's default_args give it a retry, so every task succeeds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tradewind import DAG, EmptyOperator, TaskGroup, task, task_group

with DAG(
    "task_groups",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    default_args={"retries": 0, "owner": "analytics"},
) as task_groups:
    start = EmptyOperator(task_id="start")

    with TaskGroup("extract", tooltip="pull the sources") as extract:

        @task
        def orders():
            return [3, 1, 2]

        @task
        def customers():
            return {"1": "Ada"}

        orders_out = orders()
        customers_out = customers()

    with TaskGroup(
        "transform", default_args={"retries": 1, "retry_delay": timedelta(seconds=0)}
    ) as transform:
        with TaskGroup("clean"):

            @task
            def dedupe(rows):
                return sorted(set(rows))

            deduped = dedupe(orders_out)

        @task
        def validate(rows, ti=None):
            if ti.try_number == 1:
                raise RuntimeError("flaky source")
            return len(rows)

        validated = validate(deduped)

    @task_group
    def region(name: str, rows):
        @task
        def tag(name, rows):
            return {"region": name, "rows": rows}

        return tag(name, rows)

    eu = region("eu", validated)
    us = region("us", validated)
    end = EmptyOperator(task_id="end")
    start >> extract
    [eu, us] >> end
    customers_out >> end
