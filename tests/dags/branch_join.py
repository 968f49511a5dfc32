"""Branching, written as an Airflow user would.

``branch_join``: ``choose_source`` follows ``from_api``; ``from_db`` is skipped. The join with
``none_failed_min_one_success`` runs; ``strict_join`` (left at ``all_success``) is skipped
because one of its upstreams was skipped, and so is ``after_strict_join`` after it (skip
propagation), while ``report`` (``all_done``) still runs.

``branch_empty_path``: the branch follows ``work``, which leads to ``join``; ``join`` is also
directly downstream of the branch but is not skipped (Airflow keeps tasks reachable from a
followed branch).
"""

from __future__ import annotations

from datetime import datetime

from tradewind import DAG, BranchPythonOperator, EmptyOperator, task

with DAG(
    "branch_join",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["branching"],
) as branch_join:
    start = EmptyOperator(task_id="start")

    @task.branch
    def choose_source(ds=None):
        return "from_api" if ds >= "2024-01-01" else "from_db"

    @task
    def from_api():
        return "api"

    @task
    def from_db():
        return "db"

    api = from_api()
    db = from_db()
    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
    strict_join = EmptyOperator(task_id="strict_join")
    after_strict_join = EmptyOperator(task_id="after_strict_join")
    report = EmptyOperator(task_id="report", trigger_rule="all_done")
    start >> choose_source() >> [api, db]
    [api, db] >> join
    [api, db] >> strict_join >> [after_strict_join, report]


def _pick_work():
    return "work"


with DAG("branch_empty_path", schedule=None) as branch_empty_path:
    branch = BranchPythonOperator(task_id="branch", python_callable=_pick_work)
    work = EmptyOperator(task_id="work")
    other = EmptyOperator(task_id="other")
    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
    branch >> [work, other, join]
    work >> join
    other >> join
