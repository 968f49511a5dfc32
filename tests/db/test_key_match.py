"""``key_match``: rows picked by composite keys, exactly, and from an index on SQLite."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.db import key_match, models
from tradewind.sdk.states import DagRunType

DAY = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
TI = models.TaskInstance


def _runs_with_tasks(session: Session, keys: list[tuple[str, str]]) -> None:
    for dag_id in sorted({dag_id for dag_id, _ in keys}):
        session.add(models.Dag(dag_id=dag_id))
    session.flush()
    for index, (dag_id, run_id) in enumerate(keys):
        session.add(
            models.DagRun(
                dag_id=dag_id,
                run_id=run_id,
                logical_date=DAY + dt.timedelta(days=index),
                run_type=DagRunType.SCHEDULED.value,
            )
        )
        session.flush()
        session.add_all(TI(dag_id=dag_id, run_id=run_id, task_id=task_id) for task_id in ("a", "b"))
    session.flush()


def test_picks_the_keys_not_every_combination_of_their_values(session: Session) -> None:
    _runs_with_tasks(session, [("d1", "r1"), ("d1", "r2"), ("d2", "r1"), ("d2", "r2")])
    wanted = [("d1", "r1"), ("d2", "r2")]
    rows = session.execute(
        select(TI.dag_id, TI.run_id, TI.task_id).where(
            key_match.keys_in((TI.dag_id, TI.run_id), wanted)
        )
    ).all()
    assert sorted(rows) == [
        ("d1", "r1", "a"),
        ("d1", "r1", "b"),
        ("d2", "r2", "a"),
        ("d2", "r2", "b"),
    ]


def test_no_keys_match_nothing(session: Session) -> None:
    _runs_with_tasks(session, [("d1", "r1")])
    condition = key_match.keys_in((TI.dag_id, TI.run_id), [])
    assert session.execute(select(TI.id).where(condition)).all() == []


def test_a_key_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="2 values"):
        key_match.keys_in((TI.dag_id, TI.run_id), [("d1",)])


def test_chunks_are_sorted_distinct_and_bounded() -> None:
    keys = [("d", f"r{i:03d}") for i in range(5)] * 2
    assert list(key_match.chunks(keys, size=2)) == [
        [("d", "r000"), ("d", "r001")],
        [("d", "r002"), ("d", "r003")],
        [("d", "r004")],
    ]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_answers_many_keys_from_the_index(engine: Engine) -> None:
    """The row-value form this replaces made SQLite scan the whole table."""
    keys = [("d1", "r1"), ("d1", "r2"), ("d2", "r1")]
    statement = select(TI.id).where(key_match.keys_in((TI.dag_id, TI.run_id), keys))
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        plan = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
    assert any(step.startswith("SEARCH task_instance") for step in plan), plan
    assert not any(step.startswith("SCAN task_instance") for step in plan), plan
