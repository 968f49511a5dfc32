"""The scheduler: which runs exist, which task instances are ready, and in what order.

Each pass loads what it decides from in batches (``run_view``), decides with pure functions
(``run_decisions``, ``queue_policy``, ``trigger_rules``, ``retries``, ``run_state``), then
writes the decisions (``task_scheduling.apply_decisions``, ``queueing``). ``tradewind dags
test`` uses the same ``run_decisions.decide_run``, so both give the same states.
Every state change, the scheduler's, recovery's and the services' alike, goes through
``transitions`` (task instances) and ``run_transitions`` (DAG runs, backfills, jobs).
"""
