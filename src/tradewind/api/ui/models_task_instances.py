"""One task instance as its page shows it: details, every try, its mapped siblings and XComs.

Logs are read with ``tradewind.services.task_logs``."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db.models import DagRun, TaskInstance, TaskInstanceHistory, XCom
from tradewind.exceptions import TaskNotFound


@dataclasses.dataclass(frozen=True)
class TryInfo:
    try_number: int
    state: str | None
    queued_dttm: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    hostname: str | None
    pid: int | None
    is_current: bool


@dataclasses.dataclass(frozen=True)
class MappedInstance:
    map_index: int
    state: str | None
    try_number: int


@dataclasses.dataclass(frozen=True)
class XComEntry:
    key: str
    value: str | None
    timestamp: datetime | None


@dataclasses.dataclass(frozen=True)
class TaskInstanceDetails:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None
    run_state: str
    try_number: int
    max_tries: int
    operator: str | None
    pool: str
    pool_slots: int
    queue: str
    priority_weight: int
    hostname: str | None
    pid: int | None
    queued_dttm: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    next_retry_at: datetime | None
    reschedule_date: datetime | None
    rendered_fields: dict[str, Any]
    note: str | None
    dag_version_id: int | None
    tries: tuple[TryInfo, ...]
    mapped: tuple[MappedInstance, ...]
    xcoms: tuple[XComEntry, ...]


def _try(row: Any, is_current: bool) -> TryInfo:
    return TryInfo(
        row.try_number,
        row.state,
        row.queued_dttm,
        row.start_date,
        row.end_date,
        row.duration,
        row.hostname,
        row.pid,
        is_current,
    )


def task_instance(
    session: Session, dag_id: str, run_id: str, task_id: str, map_index: int = -1
) -> TaskInstanceDetails:
    run_state = session.scalar(
        select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
    )
    if run_state is None:
        raise TaskNotFound(f"DAG {dag_id!r} has no run {run_id!r}")
    instances = list(
        session.scalars(
            select(TaskInstance)
            .where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
            )
            .order_by(TaskInstance.map_index)
        )
    )
    mapped = tuple(
        MappedInstance(ti.map_index, ti.state, ti.try_number)
        for ti in instances
        if ti.map_index >= 0
    )
    ti = next((item for item in instances if item.map_index == map_index), None)
    if ti is None and map_index == -1 and instances:
        ti = instances[0]
    if ti is None:
        raise TaskNotFound(
            f"run {run_id!r} of DAG {dag_id!r} has no task instance {task_id!r}"
            + (f" with map index {map_index}" if map_index >= 0 else "")
        )
    history = session.scalars(
        select(TaskInstanceHistory).where(
            TaskInstanceHistory.dag_id == dag_id,
            TaskInstanceHistory.run_id == run_id,
            TaskInstanceHistory.task_id == task_id,
            TaskInstanceHistory.map_index == ti.map_index,
        )
    )
    tries: dict[int, TryInfo] = {row.try_number: _try(row, False) for row in history}
    if ti.try_number > 0:
        tries[ti.try_number] = _try(ti, True)
    xcoms = tuple(
        XComEntry(row.key, row.value, row.timestamp)
        for row in session.scalars(
            select(XCom)
            .where(
                XCom.dag_id == dag_id,
                XCom.run_id == run_id,
                XCom.task_id == task_id,
                XCom.map_index == ti.map_index,
            )
            .order_by(XCom.key)
        )
    )
    return TaskInstanceDetails(
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        map_index=ti.map_index,
        state=ti.state,
        run_state=run_state,
        try_number=ti.try_number,
        max_tries=ti.max_tries,
        operator=ti.operator,
        pool=ti.pool,
        pool_slots=ti.pool_slots,
        queue=ti.queue,
        priority_weight=ti.priority_weight,
        hostname=ti.hostname,
        pid=ti.pid,
        queued_dttm=ti.queued_dttm,
        start_date=ti.start_date,
        end_date=ti.end_date,
        duration=ti.duration,
        next_retry_at=ti.next_retry_at,
        reschedule_date=ti.reschedule_date,
        rendered_fields=dict(ti.rendered_fields or {}),
        note=ti.note,
        dag_version_id=ti.dag_version_id,
        tries=tuple(tries[n] for n in sorted(tries)),
        mapped=mapped,
        xcoms=xcoms,
    )
