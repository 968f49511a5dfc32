"""Task groups: nested, without prefix, decorated with id collisions, linked as a whole."""

from __future__ import annotations

from datetime import datetime

from tradewind import DAG, EmptyOperator, TaskGroup, task, task_group

with DAG("groups", schedule="@continuous", start_date=datetime(2024, 1, 1), max_active_runs=1):
    begin = EmptyOperator(task_id="begin")
    with TaskGroup("outer", tooltip="Outer group", ui_color="#abcdef", ui_fgcolor="#111") as outer:
        first = EmptyOperator(task_id="first")
        with TaskGroup("inner", default_args={"retries": 5}) as inner:
            deep_a = EmptyOperator(task_id="a")
            deep_b = EmptyOperator(task_id="b")
            deep_a >> deep_b
        with TaskGroup("flat", prefix_group_id=False):
            unprefixed = EmptyOperator(task_id="unprefixed")
            with TaskGroup("under_flat"):
                under = EmptyOperator(task_id="under")
        first >> inner >> unprefixed >> under

    @task_group(tooltip="decorated")
    def section(n: int):
        @task
        def work(value: int) -> int:
            return value

        return work(n)

    end = EmptyOperator(task_id="end")
    begin >> outer >> [section(1), section(2)] >> end
