"""Which tasks start first and how many run at once: priority_weight and weight_rule, pools,
core.parallelism and max_active_tasks. Order is read from the task instances' start dates."""

from __future__ import annotations

from tradewind.db import engine as db_engine
from tradewind.services import pools


def _intervals(tis):
    return sorted((ti.start_date, ti.end_date, ti.task_id) for ti in tis)


def _assert_never_overlap(tis) -> None:
    intervals = _intervals(tis)
    for (_start, end, first), (start, _end, second) in zip(intervals, intervals[1:], strict=False):
        assert start >= end, f"{second} started before {first} ended"


def test_one_slot_pool_runs_tasks_one_by_one_in_priority_order(harness) -> None:
    harness.write(
        "pooled.py",
        """
        import time
        from tradewind import DAG, PythonOperator
        with DAG("pooled", schedule=None) as dag:
            for name, weight in [("low", 1), ("top", 10), ("mid", 5), ("high", 8), ("lowest", 0)]:
                PythonOperator(task_id=name, python_callable=lambda: time.sleep(0.05),
                               pool="single",
                               priority_weight=weight, weight_rule="absolute")
            PythonOperator(task_id="unpooled", python_callable=lambda: time.sleep(0.05),
                           priority_weight=0,
                           weight_rule="absolute")
    """,
    )
    harness.parse()
    db_engine.run_in_transaction(harness.engine, lambda s: pools.set_pool(s, "single", 1))
    run_id = harness.trigger("pooled")
    harness.run_until(harness.run_finished("pooled", run_id), timeout=30)
    tis = [ti for ti in harness.tis("pooled", run_id) if ti.task_id != "unpooled"]
    assert {ti.state for ti in tis} == {"success"}
    assert [task_id for _s, _e, task_id in _intervals(tis)] == [
        "top",
        "high",
        "mid",
        "low",
        "lowest",
    ]
    _assert_never_overlap(tis)
    # The pool held back only its own tasks: the unpooled
    # one (lowest priority) did not wait for them.
    unpooled = next(ti for ti in harness.tis("pooled", run_id) if ti.task_id == "unpooled")
    assert unpooled.start_date < max(ti.start_date for ti in tis)


def test_weight_rules_set_effective_priorities(harness) -> None:
    harness.write(
        "weights.py",
        """
        from tradewind import DAG, EmptyOperator
        with DAG("weights", schedule=None) as dag:
            for rule in ("downstream", "upstream", "absolute"):
                a = EmptyOperator(task_id=f"{rule}_a", weight_rule=rule, priority_weight=2)
                b = EmptyOperator(task_id=f"{rule}_b", weight_rule=rule, priority_weight=3)
                c = EmptyOperator(task_id=f"{rule}_c", weight_rule=rule, priority_weight=5)
                a >> b >> c
    """,
    )
    harness.parse()
    run_id = harness.trigger("weights")
    harness.run_until(harness.run_finished("weights", run_id), timeout=10)
    weights = {ti.task_id: ti.priority_weight for ti in harness.tis("weights", run_id)}
    assert weights == {
        "downstream_a": 10,
        "downstream_b": 8,
        "downstream_c": 5,
        "upstream_a": 2,
        "upstream_b": 5,
        "upstream_c": 10,
        "absolute_a": 2,
        "absolute_b": 3,
        "absolute_c": 5,
    }


def test_priority_decides_order_under_parallelism_one(harness) -> None:
    harness.write(
        "prio.py",
        """
        import time
        from tradewind import DAG, PythonOperator
        with DAG("prio", schedule=None) as dag:
            start = PythonOperator(task_id="start", python_callable=lambda: None,
                                   priority_weight=100)
            for name in ("x", "y", "z"):
                # downstream rule: the longer chain behind "z" makes it the most urgent
                start >> PythonOperator(task_id=name, python_callable=lambda: time.sleep(0.02))
            tail = PythonOperator(task_id="z_tail", python_callable=lambda: None,
                                  priority_weight=50)
            dag.task_dict["z"] >> tail
    """,
    )
    harness.parse()
    run_id = harness.trigger("prio")
    harness.run_until(harness.run_finished("prio", run_id), timeout=30, parallelism=1)
    tis = harness.tis("prio", run_id)
    order = [task_id for _s, _e, task_id in _intervals(tis)]
    assert order == ["start", "z", "z_tail", "x", "y"]
    _assert_never_overlap(tis)


def test_max_active_tasks_bounds_a_run(harness) -> None:
    harness.write(
        "narrow.py",
        """
        import time
        from tradewind import DAG, PythonOperator
        with DAG("narrow", schedule=None, max_active_tasks=1) as dag:
            for name in ("p", "q", "r"):
                PythonOperator(task_id=name, python_callable=lambda: time.sleep(0.05))
    """,
    )
    harness.parse()
    run_id = harness.trigger("narrow")
    harness.run_until(harness.run_finished("narrow", run_id), timeout=30, parallelism=4)
    tis = harness.tis("narrow", run_id)
    assert {ti.state for ti in tis} == {"success"}
    _assert_never_overlap(tis)


def test_a_task_larger_than_its_pool_waits_without_blocking_others(harness) -> None:
    harness.write(
        "big.py",
        """
        from tradewind import DAG, PythonOperator
        with DAG("big", schedule=None) as dag:
            PythonOperator(task_id="huge", python_callable=lambda: None, pool="small",
                           pool_slots=3, priority_weight=9)
            PythonOperator(task_id="fits", python_callable=lambda: None, pool="small", pool_slots=2)
    """,
    )
    harness.parse()
    db_engine.run_in_transaction(harness.engine, lambda s: pools.set_pool(s, "small", 2))
    run_id = harness.trigger("big")
    harness.run_until(lambda: harness.states("big", run_id)["fits"] == "success", timeout=20)
    assert harness.states("big", run_id)["huge"] == "scheduled"
    assert harness.run_state("big", run_id) == "running"
