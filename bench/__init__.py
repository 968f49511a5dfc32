"""Tradewind's benchmark suite: ``make bench`` (or ``python -m bench --help``).

Each workload starts real Tradewind processes on a fresh ``$TRADEWIND_HOME`` and reads what
happened from the metastore (task instance timestamps), so the figures are what a user would
see, not what a micro-benchmark of one function says. ``--airflow`` (``make bench-airflow``)
runs the same W1-W4 DAGs on Apache Airflow's ``standalone`` for a side-by-side table;
``--peers`` (``make bench-peers``) runs W1-W3 on Prefect 3 and Dagster; ``--celery``
(``make bench-celery``) runs W1 and W2 through the celery executor with 1, 2 and 4 workers,
Tradewind's and (``--celery tradewind,airflow``) Airflow's.

Modules, one per concern:
    figures        a measured figure: repetitions, median/min/max, unit, target
    procs          process trees: start in a session, stop the session, memory, CPU, ports
    runs           what a workload needs from an orchestrator (trigger, wait, read rows)
    metastore      the benchmark database (SQLite file or PostgreSQL ``tw_bench``), plain-SQL reads
    harness        Tradewind ``standalone``: start, wait until ready, trigger, stop
    dag_templates  the workload DAG files (``bench/dags/*.py.tmpl``) for Tradewind or Airflow
    workloads      W1-W6: what is run and how each figure follows from the timestamps
    active_runs    W9: 10, 100 and 500 runs active at once; pass time and CPU per decided task
    startup        start-up time, idle memory and CPU, import time, installed packages, baseline
    history        W8: the same figures on an empty metastore and on a long history, as ratios
    history_fill   W8's history written in bulk (COPY on PostgreSQL, executemany on SQLite)
    pass_probe     full scheduler passes timed in a process of their own
    hop_timeline   ``python -m bench.hop_timeline``: a W1 hop split where the scheduler sees it
    airflow_side   the same W1-W4 on Airflow ``standalone`` through its REST API
    deployment     separate long-running processes (servers, workers) started and stopped together
    celery_side    W1 and W2 through Tradewind's celery executor with 1, 2 and 4 workers
    airflow_celery the same on Airflow's CeleryExecutor (its Celery provider installed on first use)
    celery_report  the celery section of the report, next to the local executor's figures
    peer_side      W1-W3 on Prefect and Dagster: venvs, one subprocess per workload, figures
    peers/         the scripts those subprocesses run, in the peer's own venv
    peer_report    the peers' table, isolation models and timestamp sources
    report, plot   JSON and markdown table; the per-task start delay plot (PNG)
"""

from __future__ import annotations
