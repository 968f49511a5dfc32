"""Every trigger rule through the scheduler ends with the states ``dags test`` gives the same DAG.

One DAG puts each trigger rule behind each mix of succeeded, failed and skipped upstream tasks,
with a second level behind every such task so that skips and upstream failures propagate; a
branch, a short-circuit and an empty mapped task add skips made by tasks themselves.
"""

from __future__ import annotations

from tradewind.dag_processing import dag_bag
from tradewind.services.dag_test import LocalDagRun, make_run_info

RULES_DAG = """
from tradewind import (
    DAG, BranchPythonOperator, EmptyOperator, PythonOperator, ShortCircuitOperator, SkipTask,
    TriggerRule, task,
)

def ok():
    return "ok"

def bad():
    raise ValueError("this task fails")

def skip():
    raise SkipTask("this task skips itself")

MIXES = {
    "s": ["ok"], "f": ["bad"], "k": ["skip"],
    "sf": ["ok", "bad"], "sk": ["ok", "skip"], "fk": ["bad", "skip"], "sfk": ["ok", "bad", "skip"],
}

with DAG("rules", schedule=None) as dag:
    sources = {
        "ok": PythonOperator(task_id="ok", python_callable=ok),
        "bad": PythonOperator(task_id="bad", python_callable=bad),
        "skip": PythonOperator(task_id="skip", python_callable=skip),
    }
    for rule in TriggerRule:
        for mix, upstream in MIXES.items():
            node = EmptyOperator(task_id=f"{rule.value}__{mix}", trigger_rule=rule)
            for name in upstream:
                sources[name] >> node
            node >> EmptyOperator(task_id=f"{rule.value}__{mix}__then")
            node >> EmptyOperator(task_id=f"{rule.value}__{mix}__done", trigger_rule="all_done")

    branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "left")
    left = EmptyOperator(task_id="left")
    right = EmptyOperator(task_id="right")
    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
    join_strict = EmptyOperator(task_id="join_strict")
    branch >> [left, right]
    [left, right] >> join
    [left, right] >> join_strict

    gate = ShortCircuitOperator(task_id="gate", python_callable=lambda: False)
    gated = EmptyOperator(task_id="gated")
    gated_always = EmptyOperator(task_id="gated_always", trigger_rule="always")
    gate >> gated >> gated_always

    @task
    def nothing():
        return []

    @task
    def each(x):
        return x

    mapped = each.expand(x=nothing())
    mapped >> EmptyOperator(task_id="after_mapped")
    mapped >> EmptyOperator(task_id="after_mapped_done", trigger_rule="all_done")
"""


def test_every_trigger_rule_agrees_with_dags_test(harness) -> None:
    harness.write("rules.py", RULES_DAG)
    harness.parse()
    dag, _bag = dag_bag.load_dag(harness.folder, "rules")
    assert dag is not None
    local = LocalDagRun(dag, make_run_info(dag, None, {}), use_retry_delay=False).execute()
    expected = {ti.key: ti.state.value if ti.state else None for ti in local.task_instances}

    run_id = harness.trigger("rules")
    harness.run_until(harness.run_finished("rules", run_id), timeout=60)
    got = harness.states("rules", run_id)

    differences = {
        key: (expected.get(key), got.get(key))
        for key in set(expected) | set(got)
        if expected.get(key) != got.get(key)
    }
    assert differences == {}
    assert harness.run_state("rules", run_id) == local.state.value == "failed"
    # a few anchors, so that agreeing on nonsense would still fail
    assert got["all_success__sk"] == "skipped"
    assert got["all_success__sf"] == "upstream_failed"
    assert got["one_failed__sf"] == "success"
    assert got["none_failed_min_one_success__sk"] == "success"
    assert got["all_skipped__k"] == "success"
    assert (
        got["join"] == "success" and got["right"] == "skipped" and got["join_strict"] == "skipped"
    )
    assert (
        got["gated"] == "skipped" and got["gated_always"] == "skipped"
    )  # short-circuit skips all downstream
    assert (
        got["each"] == "skipped"
        and got["after_mapped"] == "skipped"
        and got["after_mapped_done"] == "success"
    )
