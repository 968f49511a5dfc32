"""Bash and sensors with templating.

``write_marker`` writes ``ready_<ds_nodash>.txt`` into the ``workdir`` param; ``wait_for_marker``
(a FileSensor in reschedule mode) finds it; ``wait_for_three_pokes`` (reschedule mode) is true on
its third poke; ``report`` (``@task.bash``) reads the marker with a templated command, and
``weekend_only`` exits 99 on a weekday, which skips it.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta

from tradewind import DAG, BashOperator, FileSensor, Param, PythonSensor, TimeDeltaSensor, task


def three_pokes(params):
    path = os.path.join(params["workdir"], "pokes.log")
    with open(path, "a") as handle:
        handle.write("poke\n")
    with open(path) as handle:
        return len(handle.readlines()) >= 3


with DAG(
    "sensors_bash",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    params={"workdir": Param(tempfile.gettempdir(), type="string")},
    default_args={"retries": 0},
) as sensors_bash:
    write_marker = BashOperator(
        task_id="write_marker",
        bash_command=(
            "mkdir -p {{ params.workdir }} && echo {{ ds }} > "
            "{{ params.workdir }}/ready_{{ ds_nodash }}.txt && echo written"
        ),
    )
    wait_for_marker = FileSensor(
        task_id="wait_for_marker",
        filepath="{{ params.workdir }}/ready_{{ ds_nodash }}.txt",
        poke_interval=0.05,
        timeout=30,
        mode="reschedule",
    )
    wait_for_three_pokes = PythonSensor(
        task_id="wait_for_three_pokes",
        python_callable=three_pokes,
        poke_interval=0.05,
        timeout=30,
        mode="reschedule",
    )
    after_interval = TimeDeltaSensor(
        task_id="after_interval", delta=timedelta(0), poke_interval=0.05
    )

    @task.bash(env={"MARKER_DIR": "{{ params.workdir }}"}, append_env=True)
    def report(ds=None):
        return (
            'echo "marker says $(cat $MARKER_DIR/ready_{{ ds_nodash }}.txt), '
            'next day {{ macros.ds_add(ds, 1) }}"'
        )

    weekend_only = BashOperator(
        task_id="weekend_only",
        bash_command="[ {{ logical_date.weekday() }} -ge 5 ] || exit 99",
    )
    write_marker >> wait_for_marker >> report() >> weekend_only
    [wait_for_three_pokes, after_interval] >> weekend_only
