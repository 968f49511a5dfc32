"""Short-circuiting, with ``ignore_downstream_trigger_rules`` False and True.

``check`` returns a falsy value. With ``ignore_downstream_trigger_rules=False`` only its direct
downstream ``transform`` is skipped and every later task follows its own trigger rule: ``load``
(all_success) is skipped by propagation, ``notify`` (all_done) runs, ``cleanup`` (none_failed)
runs. With True (the default) every task downstream of ``check`` is skipped, whatever its rule.
``short_circuit_pass`` returns a truthy value: nothing is skipped.
"""

from __future__ import annotations

from datetime import datetime

from tradewind import DAG, EmptyOperator, ShortCircuitOperator, task


def is_business_day(ds):
    # 2024-03-02 is a Saturday
    return datetime.strptime(ds, "%Y-%m-%d").weekday() < 5


for dag_id, ignore in [
    ("short_circuit_respect_rules", False),
    ("short_circuit_ignore_rules", True),
]:
    with DAG(dag_id, schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False) as dag:
        check = ShortCircuitOperator(
            task_id="check",
            python_callable=is_business_day,
            op_kwargs={"ds": "{{ ds }}"},
            ignore_downstream_trigger_rules=ignore,
        )
        transform = EmptyOperator(task_id="transform")
        load = EmptyOperator(task_id="load")
        notify = EmptyOperator(task_id="notify", trigger_rule="all_done")
        independent = EmptyOperator(task_id="independent")
        cleanup = EmptyOperator(task_id="cleanup", trigger_rule="none_failed")
        check >> transform >> [load, notify]
        [load, independent] >> cleanup
    globals()[dag_id] = dag


with DAG("short_circuit_pass", schedule=None) as short_circuit_pass:

    @task.short_circuit
    def has_rows():
        return [1, 2]

    @task
    def process():
        return "done"

    has_rows() >> process()
