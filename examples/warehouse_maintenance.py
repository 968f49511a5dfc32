"""Warehouse maintenance with classic operators: task groups, a short-circuit and trigger rules.

Each table gets a task group (``vacuum`` then ``analyze``), built in a loop. Monthly partition
pruning only happens on the first day of the month: ``is_month_start`` short-circuits with
``ignore_downstream_trigger_rules=False``, so on other days ``prune_partitions`` is skipped
but ``done`` (none_failed) still runs. ``alert_on_failure`` (one_failed) runs only when a
maintenance task failed, and ``release_lock`` (all_done) always runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tradewind import (
    DAG,
    BashOperator,
    EmptyOperator,
    PythonOperator,
    ShortCircuitOperator,
    TaskGroup,
    chain,
)

TABLES = ["orders", "customers", "inventory"]


def maintain(table: str, action: str, ds: str) -> str:
    print(f"{action} {table} as of {ds}")
    return f"{action}:{table}"


def first_day_of_month(logical_date) -> bool:
    return logical_date.day == 1


with DAG(
    "warehouse_maintenance",
    schedule="0 3 * * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["example", "task-groups"],
    default_args={"owner": "dba", "retries": 1, "retry_delay": timedelta(minutes=1)},
) as dag:
    take_lock = BashOperator(task_id="take_lock", bash_command="echo 'lock taken for {{ run_id }}'")
    groups = []
    for table in TABLES:
        with TaskGroup(table, tooltip=f"maintain {table}") as group:
            vacuum = PythonOperator(
                task_id="vacuum",
                python_callable=maintain,
                op_kwargs={"table": table, "action": "vacuum"},
            )
            analyze = PythonOperator(
                task_id="analyze",
                python_callable=maintain,
                op_kwargs={"table": table, "action": "analyze"},
            )
            vacuum >> analyze
        groups.append(group)

    is_month_start = ShortCircuitOperator(
        task_id="is_month_start",
        python_callable=first_day_of_month,
        ignore_downstream_trigger_rules=False,
    )
    prune = BashOperator(
        task_id="prune_partitions",
        bash_command="echo 'pruning partitions older than {{ macros.ds_add(ds, -90) }}'",
    )
    done = EmptyOperator(task_id="done", trigger_rule="none_failed")
    alert = BashOperator(
        task_id="alert_on_failure",
        bash_command="echo 'maintenance failed for {{ ds }}' >&2",
        trigger_rule="one_failed",
    )
    release_lock = BashOperator(
        task_id="release_lock", bash_command="echo 'lock released'", trigger_rule="all_done"
    )

    chain(take_lock, groups, is_month_start, prune, done)
    groups >> alert
    [done, alert] >> release_lock
