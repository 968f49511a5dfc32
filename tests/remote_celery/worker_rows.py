"""Rows for the worker listing tests: task instances that ran (or run) on named workers, and
registry answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from tradewind import DAG, EmptyOperator, serialization
from tradewind.dag_processing import store
from tradewind.db import engine as db_engine
from tradewind.db.models import Dag, DagRun, TaskInstance
from tradewind.remote import worker_registry
from tradewind.remote.worker_registry import WorkerAnswer


def add_tries(engine: Engine, tries: Sequence[tuple[str, str, datetime | None]]) -> None:
    """One task instance per ``(hostname, state, last heartbeat)``, in one run of a DAG."""
    with DAG("on_workers", schedule=None) as dag:
        for i in range(len(tries)):
            EmptyOperator(task_id=f"t{i}")
    when = datetime(2024, 1, 1, tzinfo=UTC)

    def write(session: Any) -> None:
        store.store_dag(
            session,
            dag,
            serialization.dumps(dag),
            "# source\n",
            "/dags/on_workers.py",
            paused_by_default=False,
            now=when,
        )
        session.flush()
        version = session.get(Dag, "on_workers").latest_version_id
        session.add(
            DagRun(
                dag_id="on_workers",
                run_id="r1",
                run_after=when,
                run_type="manual",
                state="running",
                conf={},
                dag_version_id=version,
                queued_at=when,
                start_date=when,
            )
        )
        session.flush()
        for i, (host, state, beat) in enumerate(tries):
            session.add(
                TaskInstance(
                    dag_id="on_workers",
                    run_id="r1",
                    task_id=f"t{i}",
                    map_index=-1,
                    state=state,
                    try_number=1,
                    max_tries=0,
                    dag_version_id=version,
                    hostname=host,
                    last_heartbeat_at=beat,
                    start_date=when,
                    operator="EmptyOperator",
                )
            )

    db_engine.run_in_transaction(engine, write)


def answer(
    name: str,
    at: datetime,
    queues: Sequence[str] = ("default",),
    *,
    concurrency: int | None = 4,
    pid: int | None = 100,
    up: float | None = 60.0,
) -> WorkerAnswer:
    return WorkerAnswer(
        worker_name=name,
        queues=tuple(queues),
        concurrency=concurrency,
        pid=pid,
        started_at=None if up is None else at - timedelta(seconds=up),
        answered_at=at,
    )


def record(engine: Engine, answers: Sequence[WorkerAnswer], now: datetime) -> None:
    db_engine.run_in_transaction(
        engine, lambda session: worker_registry.record(session, answers, now)
    )
