"""Apply what executors report (started, finished, died) to task instance rows, in one batch.

A finished try writes its state, times, rendered fields and XComs; tasks it skipped
(branching) are marked; finished tries are copied to ``task_instance_history``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tradewind.db.models import TaskInstance, TaskInstanceHistory, XCom
from tradewind.db.models.task_instance import TaskInstanceColumns
from tradewind.executors.base import Event, TaskDied, TaskFinished, TaskStarted
from tradewind.runner.log_paths import try_log_path
from tradewind.scheduler import retries
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.sdk import timezone
from tradewind.sdk.states import TaskInstanceState as TIS

log = logging.getLogger("tradewind.scheduler")

_HISTORY_STATES = {TIS.SUCCESS.value, TIS.FAILED.value, TIS.SKIPPED.value, TIS.UP_FOR_RETRY.value, TIS.UPSTREAM_FAILED.value}
_HISTORY_COLUMNS = [name for name in TaskInstanceColumns.__annotations__ if not name.startswith("_")]


def record_history(session: Session, ti: TaskInstance) -> None:
    """Copy a finished try into task_instance_history (one row per try)."""
    if ti.try_number <= 0:
        return
    exists = session.scalar(select(TaskInstanceHistory.id).where(
        TaskInstanceHistory.dag_id == ti.dag_id, TaskInstanceHistory.run_id == ti.run_id,
        TaskInstanceHistory.task_id == ti.task_id, TaskInstanceHistory.map_index == ti.map_index,
        TaskInstanceHistory.try_number == ti.try_number))
    values = {name: getattr(ti, name) for name in _HISTORY_COLUMNS}
    if exists is not None:
        session.execute(update(TaskInstanceHistory).where(TaskInstanceHistory.id == exists).values(**values))
        return
    session.add(TaskInstanceHistory(task_instance_id=ti.id, **values))


def fail_try(session: Session, cache: DagVersionCache, ti: TaskInstance, reason: str, now: datetime, log_folder: Path | None) -> None:
    """A try that ended without an outcome (process died, heartbeat lost): retry or fail it."""
    retryable = ti.try_number <= ti.max_tries
    ti.state = (TIS.UP_FOR_RETRY if retryable else TIS.FAILED).value
    ti.end_date = now
    if ti.start_date is not None:
        ti.duration = (now - ti.start_date).total_seconds()
    ti.pid = None
    ti.reschedule_date = None
    if retryable:
        task = _task(session, cache, ti)
        ti.next_retry_at = (
            retries.next_retry_at(task, dag_id=ti.dag_id, run_id=ti.run_id, try_number=ti.try_number, failed_at=now)
            if task is not None else now
        )
    record_history(session, ti)
    log.error("Task %s.%s (run %s, try %s) %s: marked %s", ti.dag_id, ti.task_id, ti.run_id, ti.try_number, reason, ti.state)
    if log_folder is not None:
        path = try_log_path(log_folder, ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(f"[{now.isoformat()}] ERROR - {reason}; the task is marked {ti.state}\n")
        except OSError:
            pass


def _task(session: Session, cache: DagVersionCache, ti: TaskInstance) -> Any:
    if ti.dag_version_id is None:
        return None
    return cache.get(session, ti.dag_version_id).dag.task_dict.get(ti.task_id)


def _apply_finished(session: Session, cache: DagVersionCache, ti: TaskInstance, message: dict[str, Any], now: datetime) -> None:
    state = message["state"]
    start = timezone.parse(message["start_date"]) if message.get("start_date") else now
    end = timezone.parse(message["end_date"]) if message.get("end_date") else now
    ti.start_date = ti.start_date or start
    ti.end_date = end
    ti.duration = max(0.0, (end - ti.start_date).total_seconds())
    ti.state = state
    ti.pid = None
    if message.get("rendered_fields"):
        ti.rendered_fields = message["rendered_fields"]
    for key, encoded in message.get("xcoms") or []:
        session.merge(XCom(dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=ti.map_index,
                           key=key, value=encoded, timestamp=now))
    if state == TIS.UP_FOR_RESCHEDULE.value:
        ti.reschedule_date = timezone.parse(message["reschedule_date"]) if message.get("reschedule_date") else now
        ti.end_date = None
        return
    ti.reschedule_date = None
    if state == TIS.UP_FOR_RETRY.value:
        task = _task(session, cache, ti)
        ti.next_retry_at = (
            retries.next_retry_at(task, dag_id=ti.dag_id, run_id=ti.run_id, try_number=ti.try_number, failed_at=end)
            if task is not None else end
        )
    skipped = message.get("skipped_task_ids") or []
    if skipped:
        session.execute(
            update(TaskInstance)
            .where(TaskInstance.dag_id == ti.dag_id, TaskInstance.run_id == ti.run_id,
                   TaskInstance.task_id.in_(skipped))
            .where((TaskInstance.state.is_(None)) | (TaskInstance.state == TIS.SCHEDULED.value))
            .values(state=TIS.SKIPPED.value, end_date=now)
            .execution_options(synchronize_session="fetch")
        )
    if state in _HISTORY_STATES:
        record_history(session, ti)


def apply_events(
    session: Session, cache: DagVersionCache, events: Iterable[Event], now: datetime, log_folder: Path | None = None
) -> set[tuple[str, str]]:
    """Write the events; return the (dag_id, run_id) of the runs they touched."""
    events = list(events)
    if not events:
        return set()
    ids = {event.ti_id for event in events}
    rows = {ti.id: ti for ti in session.scalars(select(TaskInstance).where(TaskInstance.id.in_(ids)))}
    touched: set[tuple[str, str]] = set()
    for event in events:
        ti = rows.get(event.ti_id)
        if ti is None:
            continue
        touched.add((ti.dag_id, ti.run_id))
        if isinstance(event, TaskStarted):
            if ti.state == TIS.QUEUED.value:
                ti.state = TIS.RUNNING.value
                ti.pid = event.pid
                ti.hostname = event.hostname
                ti.start_date = ti.start_date or event.at
                ti.last_heartbeat_at = now
        elif isinstance(event, TaskFinished):
            if ti.state in (TIS.QUEUED.value, TIS.RUNNING.value):
                _apply_finished(session, cache, ti, event.message, now)
        elif isinstance(event, TaskDied):
            if ti.state in (TIS.QUEUED.value, TIS.RUNNING.value):
                fail_try(session, cache, ti, event.reason, now, log_folder)
    session.flush()
    return touched
