"""Retries: a flaky task that succeeds on its third try, and tasks that run out of tries.

``retries_then_success``: ``flaky_download`` fails on tries 1 and 2 and succeeds on try 3
(retries=3); ``parse`` after it succeeds; the run succeeds.

``retries_exhausted``: ``always_fails`` uses both of its tries (retries=1) and fails;
``fail_fast_task`` raises FailTask, which fails it at once despite retries=3; the tasks after
them are upstream_failed and the run fails.
"""

from __future__ import annotations

from datetime import timedelta

from tradewind import DAG, EmptyOperator, FailTask, PythonOperator


def download(ti):
    if ti.try_number < 3:
        raise ConnectionError(f"server busy on try {ti.try_number}")
    return {"bytes": 1024}


def parse(ti):
    return ti.xcom_pull(task_ids="flaky_download")["bytes"] // 2


def broken():
    raise RuntimeError("this never works")


def give_up():
    raise FailTask("input is invalid; retrying would not help")


default_args = {"retry_delay": timedelta(seconds=0), "owner": "ops"}

with DAG("retries_then_success", schedule=None, default_args=default_args) as retries_then_success:
    flaky = PythonOperator(task_id="flaky_download", python_callable=download, retries=3)
    parsed = PythonOperator(task_id="parse", python_callable=parse)
    flaky >> parsed

with DAG(
    "retries_exhausted", schedule=None, default_args={**default_args, "retries": 1}
) as retries_exhausted:
    always = PythonOperator(task_id="always_fails", python_callable=broken)
    at_once = PythonOperator(task_id="fail_fast_task", python_callable=give_up, retries=3)
    after = EmptyOperator(task_id="after")
    [always, at_once] >> after
