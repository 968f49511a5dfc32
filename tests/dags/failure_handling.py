"""Failure handling with an ``all_done`` cleanup and a ``one_failed`` alert.

``failure_with_cleanup``: ``transform`` fails, ``load`` is upstream_failed, ``cleanup``
(all_done) and ``alert`` (one_failed) run. Both leaves succeeded, so, as in Airflow, the run
is marked success even though a task in the middle failed.

``failure_fails_run``: the same, but ``load`` is a leaf: it is upstream_failed, so the run fails.
``alert_not_needed`` (one_failed) after a successful task is skipped.
"""

from __future__ import annotations

from datetime import datetime

from tradewind import DAG, EmptyOperator, task


@task
def extract():
    return [1, 2, 3]


@task
def transform(rows):
    raise ValueError(f"bad row in {rows}")


@task
def load(rows):
    return len(rows)


for dag_id in ("failure_with_cleanup", "failure_fails_run"):
    with DAG(dag_id, schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False) as dag:
        raw = extract()
        transformed = transform(raw)
        loaded = load(transformed)
        alert = EmptyOperator(task_id="alert", trigger_rule="one_failed")
        transformed >> alert
        if dag_id == "failure_with_cleanup":
            cleanup = EmptyOperator(task_id="cleanup", trigger_rule="all_done")
            loaded >> cleanup
        else:
            alert_not_needed = EmptyOperator(task_id="alert_not_needed", trigger_rule="one_failed")
            raw >> alert_not_needed
    globals()[dag_id] = dag
