"""W8's metastore history, written in bulk rather than by running it.

The DAGs are clones of one parsed template (``history_dag_source``): its files are written
with each clone's id and its ``dag`` and ``dag_version`` rows copied with that id, so the
DAG processor takes them as up to date and imports none of them again. Runs and task
instances are generated as the scheduler would have left them: daily runs, finished, mostly
successful, some failed (a failed task, its downstream ``upstream_failed``) and some with a
skipped task, a few retried (their first try in ``task_instance_history``), and the last task's
``return_value`` in XCom.

Rows go in with ``COPY`` on PostgreSQL and with one ``executemany`` per chunk on SQLite.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine

from tradewind.db.base import Base

TEMPLATE_ID = "bench_w8_history_0000"
HISTORY_TASKS = 5
#: The last history date: the bench's own runs use 2024 logical dates and later.
LAST_DAY = dt.datetime(2023, 12, 31, tzinfo=dt.UTC)
CHUNK = 20_000

HISTORY_DAG = '''"""Bench W8: a daily DAG of {n} chained tasks, one of many with a long history."""
from datetime import datetime

from tradewind import DAG, task

with DAG("{dag_id}", schedule="@daily", start_date=datetime(2023, 1, 1), catchup=False,
         tags=["bench", "history"]):

    @task
    def step():
        return {{"rows": 42}}

    previous = None
    for i in range({n}):
        current = step.override(task_id=f"t{{i:03d}}")()
        if previous is not None:
            previous >> current
        previous = current
'''


def history_dag_id(index: int) -> str:
    return f"bench_w8_history_{index:04d}"


def history_dag_source(dag_id: str) -> str:
    return HISTORY_DAG.format(dag_id=dag_id, n=HISTORY_TASKS)


@dataclasses.dataclass(frozen=True)
class FillSummary:
    dags: int
    runs: int
    task_instances: int
    seconds: float


@dataclasses.dataclass(frozen=True)
class DagHistory:
    """``runs`` finished daily runs of one stored DAG, ending on ``LAST_DAY``."""

    dag_id: str
    version_id: int
    task_ids: tuple[str, ...]
    runs: int


def _table(name: str) -> sqlalchemy.Table:
    return Base.metadata.tables[name]


def _row_dict(row: sqlalchemy.Row) -> dict[str, Any]:
    return dict(row._mapping)


def clone_dags(engine: Engine, folder: Path, count: int) -> list[DagHistory]:
    """Copies 1..count-1 of the stored template DAG (its file too); all ``count`` of them."""
    dag, version, tag = _table("dag"), _table("dag_version"), _table("dag_tag")
    with engine.begin() as conn:
        template = _row_dict(conn.execute(select(dag).where(dag.c.dag_id == TEMPLATE_ID)).one())
        template_version = _row_dict(
            conn.execute(select(version).where(version.c.id == template["latest_version_id"])).one()
        )
        tags = [
            row.name for row in conn.execute(select(tag.c.name).where(tag.c.dag_id == TEMPLATE_ID))
        ]
        task_ids = tuple(f"t{i:03d}" for i in range(HISTORY_TASKS))
        result = [DagHistory(TEMPLATE_ID, template["latest_version_id"], task_ids, 0)]
        for index in range(1, count):
            dag_id = history_dag_id(index)
            path = folder / f"{dag_id}.py"
            path.write_text(history_dag_source(dag_id), encoding="utf-8")
            row = {key: _swap(value, dag_id) for key, value in template.items() if key != "dag_id"}
            conn.execute(dag.insert(), [dict(row, dag_id=dag_id, latest_version_id=None)])
            clone = {
                key: _swap(value, dag_id)
                for key, value in template_version.items()
                if key not in {"id", "dag_id"}
            }
            version_id = conn.execute(
                version.insert().values(dag_id=dag_id, **clone).returning(version.c.id)
            ).scalar_one()
            conn.execute(
                dag.update().where(dag.c.dag_id == dag_id).values(latest_version_id=version_id)
            )
            if tags:
                conn.execute(tag.insert(), [{"dag_id": dag_id, "name": name} for name in tags])
            result.append(DagHistory(dag_id, version_id, task_ids, 0))
    return result


def _swap(value: Any, dag_id: str) -> Any:
    return value.replace(TEMPLATE_ID, dag_id) if isinstance(value, str) else value


def stored_dag(engine: Engine, dag_id: str) -> tuple[int, tuple[str, ...]]:
    """(latest version id, task ids in order) of a DAG the processor stored."""
    with engine.connect() as conn:
        version_id = conn.execute(
            text("SELECT latest_version_id FROM dag WHERE dag_id = :d"), {"d": dag_id}
        ).scalar_one()
        serialized = conn.execute(
            text("SELECT serialized_dag FROM dag_version WHERE id = :v"), {"v": version_id}
        ).scalar_one()
    return version_id, tuple(sorted(_task_ids(json.loads(serialized))))


def _task_ids(document: Any) -> Iterator[str]:
    """Every ``task_id`` value in a serialized DAG, wherever its format keeps the tasks."""
    if isinstance(document, dict):
        task_id = document.get("task_id")
        if isinstance(task_id, str):
            yield task_id
        for value in document.values():
            yield from _task_ids(value)
    elif isinstance(document, list):
        for value in document:
            yield from _task_ids(value)


# -- generated rows ---------------------------------------------------------------------------


def _run_outcome(serial: int) -> str:
    """7 % failed, 5 % with a skipped task, the rest all successful (deterministic)."""
    bucket = serial % 100
    if bucket < 7:
        return "failed"
    if bucket < 12:
        return "skipped"
    return "success"


def generate(histories: Iterable[DagHistory]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table name, row) for every run and then what it left behind, run by run."""
    serial = 0
    for history in histories:
        for back in range(history.runs):
            serial += 1
            yield from _one_run(history, LAST_DAY - dt.timedelta(days=back), serial)


def _one_run(
    history: DagHistory, logical: dt.datetime, serial: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    outcome = _run_outcome(serial)
    run_id = f"scheduled__{logical.isoformat()}"
    interval_end = logical + dt.timedelta(days=1)
    queued = interval_end + dt.timedelta(seconds=1 + serial % 7)
    started = queued + dt.timedelta(milliseconds=40)
    tasks = history.task_ids
    failed_at = serial % len(tasks) if outcome == "failed" else None
    skipped_at = (len(tasks) - 1) if outcome == "skipped" else None
    clock = started
    left: list[tuple[str, dict[str, Any]]] = []
    for position, task_id in enumerate(tasks):
        retried = serial % 50 == 0 and position == 0
        if failed_at is not None and position > failed_at:
            state, begin, end = "upstream_failed", None, None
        else:
            begin = clock + dt.timedelta(milliseconds=5)
            end = begin + dt.timedelta(milliseconds=200 + (serial * 37 + position * 11) % 4000)
            clock = end
            state = "success"
            if position == failed_at:
                state = "failed"
            elif position == skipped_at:
                state = "skipped"
        ti = {
            "dag_id": history.dag_id,
            "run_id": run_id,
            "task_id": task_id,
            "map_index": -1,
            "try_number": 2 if retried else (1 if begin else 0),
            "max_tries": 1 if retried else 0,
            "state": state,
            "pool": "default_pool",
            "pool_slots": 1,
            "priority_weight": len(tasks) - position,
            "queue": "default",
            "operator": "@task",
            "hostname": "bench-host" if begin else None,
            "pid": 10_000 + serial % 30_000 if begin else None,
            "last_heartbeat_at": end,
            "scheduled_dttm": begin and begin - dt.timedelta(milliseconds=3),
            "queued_dttm": begin and begin - dt.timedelta(milliseconds=2),
            "start_date": begin,
            "end_date": end,
            "duration": (end - begin).total_seconds() if begin and end else None,
            "queued_by_job_id": 1 if begin else None,
            "dag_version_id": history.version_id,
            "rendered_fields": {"op_args": "[]", "op_kwargs": "{}"} if begin else None,
            "updated_at": end or clock,
        }
        left.append(("task_instance", ti))
        if retried and begin is not None:
            first = dict(ti, try_number=1, state="failed", end_date=begin, updated_at=begin)
            left.append(("task_instance_history", first))
        if state == "success" and position == len(tasks) - 1:
            left.append(
                (
                    "xcom",
                    {
                        "dag_id": history.dag_id,
                        "run_id": run_id,
                        "task_id": task_id,
                        "map_index": -1,
                        "key": "return_value",
                        "value": '{"rows": 42}',
                        "timestamp": end,
                    },
                )
            )
    yield (
        "dag_run",
        {
            "dag_id": history.dag_id,
            "run_id": run_id,
            "logical_date": logical,
            "data_interval_start": logical,
            "data_interval_end": interval_end,
            "run_after": interval_end,
            "run_type": "scheduled",
            "state": "failed" if outcome == "failed" else "success",
            "conf": {},
            "dag_version_id": history.version_id,
            "queued_at": queued,
            "start_date": started,
            "end_date": clock + dt.timedelta(milliseconds=30),
            "last_scheduling_decision": clock,
            "triggered_by": "timetable",
            "clear_number": 0,
            "created_at": queued,
            "updated_at": clock + dt.timedelta(milliseconds=30),
        },
    )
    yield from left  # after their run: a chunk may be written between any two rows


# -- writing ----------------------------------------------------------------------------------

#: Parents before children (the foreign keys): runs, then task instances, then the rest.
ORDER = ("dag_run", "task_instance", "task_instance_history", "xcom")


def write_history(engine: Engine, histories: list[DagHistory]) -> FillSummary:
    """Insert every generated row; chunks keep memory flat."""
    started = time.monotonic()
    counts = dict.fromkeys(ORDER, 0)
    pending: dict[str, list[dict[str, Any]]] = {name: [] for name in ORDER}
    with engine.begin() as conn:
        for name, row in generate(histories):
            pending[name].append(row)
            if len(pending["task_instance"]) >= CHUNK:
                _flush(conn, pending, counts)
        _flush(conn, pending, counts)
    return FillSummary(
        dags=len(histories),
        runs=counts["dag_run"],
        task_instances=counts["task_instance"],
        seconds=time.monotonic() - started,
    )


def _flush(
    conn: Connection, pending: dict[str, list[dict[str, Any]]], counts: dict[str, int]
) -> None:
    for name in ORDER:
        rows = pending[name]
        if not rows:
            continue
        if conn.dialect.name == "postgresql":
            _copy(conn, name, rows)
        else:
            _executemany(conn, name, rows)
        counts[name] += len(rows)
        rows.clear()


def _executemany(conn: Connection, name: str, rows: list[dict[str, Any]]) -> None:
    """One driver-level ``executemany``, the values converted by the columns' own types (what
    ``insert()`` does, minus its per-row bookkeeping, which cost several times the insert)."""
    table = _table(name)
    columns = list(rows[0])
    converters = [table.c[column].type._cached_bind_processor(conn.dialect) for column in columns]
    quoted = ", ".join(f'"{column}"' for column in columns)
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(
        f'INSERT INTO "{name}" ({quoted}) VALUES ({marks})',
        [
            tuple(
                value if convert is None else convert(value)
                for value, convert in zip((row[c] for c in columns), converters, strict=True)
            )
            for row in rows
        ],
    )


def _copy(conn: Connection, name: str, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's COPY, the fast path (JSON columns go as their text)."""
    columns = list(rows[0])
    json_columns = {
        column.name for column in _table(name).columns if isinstance(column.type, sqlalchemy.JSON)
    }
    raw = conn.connection.driver_connection
    assert raw is not None
    quoted = ", ".join(f'"{column}"' for column in columns)
    with raw.cursor() as cursor, cursor.copy(f'COPY "{name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [
                    json.dumps(row[c]) if c in json_columns and row[c] is not None else row[c]
                    for c in columns
                ]
            )
