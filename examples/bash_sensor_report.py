"""Bash, a file sensor and templating: export a day's orders, wait for the file, report on it.

``export`` runs ``scripts/export_orders.sh`` (found through ``template_searchpath`` and rendered
with Jinja first); ``wait_for_export`` waits for its file in reschedule mode, freeing its slot
between pokes; ``count_rows`` counts the rows and pushes the count (the last line of output)
to XCom; ``check_rows`` skips the rest of the day when the file is empty; ``report`` uses the
template context (``ds``, the data interval, ``macros``, a user-defined macro, XCom);
``cleanup`` (all_done) removes the file whatever happened.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta

from tradewind import DAG, BashOperator, FileSensor, Param, SkipTask, task

with DAG(
    "bash_sensor_report",
    schedule="0 6 * * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["example", "bash", "sensor"],
    template_searchpath=[os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts")],
    user_defined_macros={"report_name": "orders daily"},
    params={
        "out_dir": Param(
            os.path.join(tempfile.gettempdir(), "tradewind_example_exports"), type="string"
        )
    },
    default_args={"owner": "ops", "retries": 2, "retry_delay": timedelta(seconds=30)},
) as dag:
    export = BashOperator(
        task_id="export",
        bash_command="export_orders.sh",
        env={"OUT_DIR": "{{ params.out_dir }}"},
        append_env=True,
    )
    wait_for_export = FileSensor(
        task_id="wait_for_export",
        filepath="{{ params.out_dir }}/orders_{{ ds_nodash }}.csv",
        poke_interval=5,
        timeout=timedelta(minutes=30),
        mode="reschedule",
    )
    count_rows = BashOperator(
        task_id="count_rows",
        bash_command="tail -n +2 {{ params.out_dir }}/orders_{{ ds_nodash }}.csv | wc -l",
    )

    @task
    def check_rows(rows: str) -> int:
        count = int(rows.strip())
        if count == 0:
            raise SkipTask("no orders today")
        return count

    report = BashOperator(
        task_id="report",
        bash_command=(
            'echo "{{ report_name }} for {{ ds }} '
            "({{ data_interval_start | ds }} .. {{ data_interval_end | ds }}): "
            "{{ ti.xcom_pull(task_ids='check_rows') }} orders; "
            'next report {{ macros.ds_add(ds, 1) }}"'
        ),
    )
    cleanup = BashOperator(
        task_id="cleanup",
        bash_command="rm -f {{ params.out_dir }}/orders_{{ ds_nodash }}.csv",
        trigger_rule="all_done",
    )
    export >> wait_for_export >> count_rows
    check_rows(count_rows.output) >> report >> cleanup
