"""Listings read one page of a long history from an index: on SQLite (which Tradewind never
gives statistics) the queries the services run are planned without a scan or sort of the whole
table. A plan that sorts every task instance to return fifty is what made these listings grow
with history (a second per listing at a million task instances)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.db import models
from tradewind.services import dag_runs, paging, task_instances

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


@contextmanager
def _statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _plans(engine: Engine, session: Session, call: Callable[[], object]) -> list[list[str]]:
    """The query plan of each paged SELECT ``call`` runs (the counts are left aside)."""
    with _statements(engine) as seen:
        call()
    session.rollback()  # the EXPLAINs below need the database the listing's transaction holds
    plans = []
    with engine.connect() as conn:
        for statement, params in seen:
            if "LIMIT" not in statement or "count(" in statement:
                continue
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            plans.append([row[3] for row in rows])
    assert plans, "the listing ran no paged query"
    return plans


def _one_run(session: Session) -> None:
    session.add(models.Dag(dag_id="d"))
    session.flush()
    session.add(models.DagRun(dag_id="d", run_id="r", run_type="manual"))
    session.flush()
    session.add(models.TaskInstance(dag_id="d", run_id="r", task_id="t"))
    session.commit()


@pytest.mark.parametrize(
    "where",
    [
        task_instances.TaskInstanceFilter(),
        task_instances.TaskInstanceFilter(dag_id="d"),
        task_instances.TaskInstanceFilter(dag_id="d", run_id="r"),
    ],
    ids=["every DAG", "one DAG", "one run"],
)
def test_task_instance_listings(
    engine: Engine, session: Session, where: task_instances.TaskInstanceFilter
) -> None:
    _one_run(session)
    for plan in _plans(
        engine,
        session,
        lambda: task_instances.list_page(session, where, order_by=None, page=paging.Page()),
    ):
        assert not any("TEMP B-TREE" in step for step in plan), plan
        if where.dag_id is not None:
            assert not any(step.startswith("SCAN task_instance") for step in plan), plan
        if where.run_id is not None:
            assert any("(dag_id=? AND run_id=?)" in step for step in plan if "task_inst" in step)


@pytest.mark.parametrize(
    ("where", "order_by"),
    [(dag_runs.RunFilter(), "-run_after"), (dag_runs.RunFilter(dag_ids=["d"]), None)],
    ids=["every DAG newest first", "one DAG by id"],
)
def test_run_listings(
    engine: Engine, session: Session, where: dag_runs.RunFilter, order_by: str | None
) -> None:
    _one_run(session)
    for plan in _plans(
        engine,
        session,
        lambda: dag_runs.list_runs_page(session, where, order_by=order_by, page=paging.Page()),
    ):
        assert not any("TEMP B-TREE" in step for step in plan), plan
        if where.dag_ids:
            assert not any(step.startswith("SCAN dag_run") for step in plan), plan
