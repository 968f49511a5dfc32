"""Classic operators: every scheduling attribute, callbacks, branches, every trigger rule."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tradewind import (
    DAG,
    BashOperator,
    BranchPythonOperator,
    EmptyOperator,
    Param,
    PythonOperator,
    ShortCircuitOperator,
    TriggerRule,
)


def notify(context):
    return None


def pick(**context):
    return "left"


class Thing:
    """An object with no JSON form and the default repr (which has a memory address)."""


with DAG(
    "classic",
    schedule="30 4 * * 1-5",
    start_date=datetime(2024, 3, 1, tzinfo=ZoneInfo("Asia/Seoul")),
    end_date=datetime(2030, 1, 1),
    catchup=True,
    tags=["serialization", "classic"],
    description="Every classic operator",
    doc_md="# Classic\nOperators of every kind.",
    max_active_runs=3,
    max_active_tasks=7,
    dagrun_timeout=timedelta(hours=2, seconds=0.5),
    on_success_callback=notify,
    on_failure_callback=[notify, notify],
    template_searchpath=["/opt/templates", "relative/templates"],
    render_template_as_native_obj=True,
    is_paused_upon_creation=False,
    owner_links={"ops": "https://example.com/ops"},
    dag_display_name="Classic DAG",
    fail_fast=True,
    params={
        "count": Param(3, description="How many", type="integer", minimum=1, maximum=10),
        "mode": Param("fast", enum=["fast", "slow"], title="Mode"),
        "required": Param(type="string", description="No default"),
        "plain": 42,
        "when": Param("2024-01-01", type="string", format="date"),
    },
    default_args={
        "owner": "ops",
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
        "on_failure_callback": notify,
        "email": ["ops@example.com"],
    },
) as dag:
    start = EmptyOperator(task_id="start", doc_md="The start")
    bash = BashOperator(
        task_id="bash",
        bash_command="echo {{ ds }} && exit 0",
        env={"B": "2", "A": "1"},
        cwd="/tmp",
        retries=4,
        retry_delay=90,
        retry_exponential_backoff=True,
        max_retry_delay=timedelta(hours=1),
        execution_timeout=timedelta(minutes=10),
        pool="bash_pool",
        pool_slots=2,
        priority_weight=5,
        weight_rule="upstream",
        queue="cpu",
        max_active_tis_per_dag=2,
        max_active_tis_per_dagrun=1,
        depends_on_past=True,
        wait_for_downstream=True,
        do_xcom_push=False,
        start_date=datetime(2024, 4, 1),
        end_date=datetime(2029, 1, 1),
        executor_config={"cpu": 2, "labels": ("a", "b")},
        on_execute_callback=notify,
        on_retry_callback=notify,
        on_skipped_callback=notify,
        on_success_callback=notify,
        task_display_name="Run bash",
        params={"limit": Param(5, type="integer")},
    )
    script = BashOperator(
        task_id="script", bash_command="scripts/run.sh", priority_weight=10, weight_rule="absolute"
    )
    python = PythonOperator(
        task_id="python",
        python_callable=notify,
        op_args=[
            1,
            "two",
            3.5,
            None,
            True,
            (4, 5),
            datetime(2024, 1, 2, 3, 4, 5),
            timedelta(days=1, microseconds=7),
        ],
        op_kwargs={
            "names": {"delta", "alpha", "charlie", "bravo", "echo"},
            "frozen": frozenset({"x", "y", "z"}),
            "thing": Thing(),
            "callback": notify,
            "lambda": lambda x: x,
            "path": Path("/data/in.csv"),
            "nan": math.nan,
            "inf": -math.inf,
            "int_keys": {2: "b", 1: "a"},
            "tricky": {"__type": "not a tag", "__var": 1},
            "bytes": b"\x00\x01",
            "rule": TriggerRule.ONE_FAILED,
        },
        templates_dict={"query": "SELECT {{ ds }}"},
        templates_exts=[".sql"],
        doc="Plain doc",
    )
    branch = BranchPythonOperator(task_id="branch", python_callable=pick)
    left = EmptyOperator(task_id="left")
    right = EmptyOperator(task_id="right")
    gate = ShortCircuitOperator(
        task_id="gate", python_callable=pick, ignore_downstream_trigger_rules=False
    )

    start >> [bash, script, python] >> branch >> [left, right]
    right >> gate
    for rule in TriggerRule:
        join = EmptyOperator(task_id=f"join_{rule.value}", trigger_rule=rule)
        [left, gate] >> join
