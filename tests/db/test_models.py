"""Constraints, cascades and indexes of the models, on both backends."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradewind.db import models
from tradewind.db.base import Base
from tradewind.sdk.states import DagRunState, DagRunType, TaskInstanceState

UTC = dt.UTC
DAY1 = dt.datetime(2024, 1, 1, tzinfo=UTC)


def _dag(session: Session, dag_id: str = "etl") -> models.Dag:
    dag = models.Dag(dag_id=dag_id, tags=[models.DagTag(name="b"), models.DagTag(name="a")])
    session.add(dag)
    session.flush()
    return dag


def _run(
    session: Session,
    dag_id: str = "etl",
    run_id: str = "r1",
    logical_date: dt.datetime | None = DAY1,
) -> models.DagRun:
    run = models.DagRun(
        dag_id=dag_id, run_id=run_id, logical_date=logical_date, run_type=DagRunType.SCHEDULED.value
    )
    session.add(run)
    session.flush()
    return run


def _ti(session: Session, task_id: str = "t1", map_index: int = -1) -> models.TaskInstance:
    ti = models.TaskInstance(dag_id="etl", run_id="r1", task_id=task_id, map_index=map_index)
    session.add(ti)
    session.flush()
    return ti


def test_defaults(session: Session) -> None:
    _dag(session)
    run = _run(session)
    ti = _ti(session)
    assert run.state == DagRunState.QUEUED.value and run.clear_number == 0
    assert run.run_after.tzinfo == UTC
    assert (ti.map_index, ti.try_number, ti.pool, ti.pool_slots, ti.queue, ti.state) == (
        -1,
        0,
        "default_pool",
        1,
        "default",
        None,
    )
    session.commit()
    session.expire_all()
    dag = session.get(models.Dag, "etl")
    assert dag is not None and [t.name for t in dag.tags] == ["a", "b"]


def test_dag_run_unique_run_id(session: Session) -> None:
    _dag(session)
    _run(session, run_id="r1", logical_date=DAY1)
    with pytest.raises(IntegrityError):
        _run(session, run_id="r1", logical_date=DAY1 + dt.timedelta(days=1))


def test_dag_run_unique_logical_date_but_many_nulls(session: Session) -> None:
    _dag(session)
    _run(session, run_id="m1", logical_date=None)
    _run(session, run_id="m2", logical_date=None)
    _run(session, run_id="s1", logical_date=DAY1)
    with pytest.raises(IntegrityError):
        _run(session, run_id="s2", logical_date=DAY1)


def test_task_instance_unique_per_map_index(session: Session) -> None:
    _dag(session)
    _run(session)
    _ti(session, map_index=-1)
    _ti(session, task_id="mapped", map_index=0)
    _ti(session, task_id="mapped", map_index=1)
    with pytest.raises(IntegrityError):
        _ti(session, task_id="mapped", map_index=1)


def test_dag_version_unique_number_and_hash(session: Session) -> None:
    _dag(session)
    session.add(
        models.DagVersion(dag_id="etl", version_number=1, serialized_dag="{}", content_hash="h1")
    )
    session.flush()
    with session.begin_nested(), pytest.raises(IntegrityError):
        session.add(
            models.DagVersion(
                dag_id="etl", version_number=1, serialized_dag="{}", content_hash="h2"
            )
        )
        session.flush()
    with pytest.raises(IntegrityError):
        session.add(
            models.DagVersion(
                dag_id="etl", version_number=2, serialized_dag="{}", content_hash="h1"
            )
        )
        session.flush()


@pytest.mark.parametrize(
    "make",
    [
        lambda: models.Variable(key="k", val="v"),
        lambda: models.ConnectionRow(conn_id="k", conn_type="http"),
        lambda: models.SlotPool(pool="k", slots=1),
        lambda: models.ParseImportError(filename="k"),
        lambda: models.Role(name="k"),
    ],
)
def test_unique_names(session: Session, make) -> None:  # type: ignore[no-untyped-def]
    session.add(make())
    session.flush()
    with pytest.raises(IntegrityError):
        session.add(make())
        session.flush()


def test_user_role_must_exist(session: Session) -> None:
    session.add(models.User(username="ada", role="Admin"))
    session.flush()
    with pytest.raises(IntegrityError):
        session.add(models.User(username="bob", role="NoSuchRole"))
        session.flush()


def test_run_needs_its_dag(session: Session) -> None:
    with pytest.raises(IntegrityError):
        _run(session, dag_id="missing")


def test_deleting_a_dag_cascades(session: Session) -> None:
    dag = _dag(session)
    version = models.DagVersion(
        dag_id="etl", version_number=1, serialized_dag="{}", content_hash="h"
    )
    session.add(version)
    session.flush()
    dag.latest_version_id = version.id
    run = _run(session)
    run.dag_version_id = version.id
    ti = _ti(session)
    ti.state = TaskInstanceState.SUCCESS.value
    session.add(models.XCom(dag_id="etl", run_id="r1", task_id="t1", key="return_value", value="1"))
    session.add(
        models.TaskInstanceHistory(
            task_instance_id=ti.id, dag_id="etl", run_id="r1", task_id="t1", try_number=1
        )
    )
    backfill = models.Backfill(dag_id="etl", from_date=DAY1, to_date=DAY1)
    session.add(backfill)
    session.flush()
    session.add(
        models.BackfillDagRun(
            backfill_id=backfill.id, dag_run_id=run.id, logical_date=DAY1, sort_ordinal=1
        )
    )
    session.commit()

    session.delete(dag)
    session.commit()
    for model in (
        models.DagTag,
        models.DagVersion,
        models.DagRun,
        models.TaskInstance,
        models.TaskInstanceHistory,
        models.XCom,
        models.Backfill,
        models.BackfillDagRun,
    ):
        assert session.scalar(select(func.count()).select_from(model)) == 0, model.__name__


def test_scheduler_indexes_exist(engine: Engine) -> None:
    inspector = inspect(engine)

    def indexed(table: str) -> set[tuple[str, ...]]:
        found = {tuple(ix["column_names"]) for ix in inspector.get_indexes(table)}
        found |= {tuple(uq["column_names"]) for uq in inspector.get_unique_constraints(table)}
        return found

    assert {("state",), ("dag_id", "run_id", "state"), ("state", "pool")} <= indexed(
        "task_instance"
    )
    assert {("state", "dag_id"), ("dag_id", "logical_date")} <= indexed("dag_run")
    assert ("is_paused", "is_active", "next_dagrun_create_after") in indexed("dag")


def test_constraint_names_fit_postgres() -> None:
    names = [
        str(item.name)
        for table in Base.metadata.tables.values()
        for item in [*table.constraints, *table.indexes]
    ]
    assert all(len(name) <= 63 for name in names), [n for n in names if len(n) > 63]
