"""The scheduler: which runs exist, which task instances are ready, and in what order.

The decision modules here (``trigger_rules``, ``retries``, ``run_state``) are pure functions,
shared by the scheduler loop and by ``tradewind dags test`` so both give the same states.
Every state change, the scheduler's, recovery's and the services' alike, goes through
``transitions`` (task instances) and ``run_transitions`` (DAG runs, backfills, jobs).
"""
