"""Apply what executors report (started, finished, died) to task instance rows, in one batch.

A finished try writes its state, times, rendered fields and XComs; tasks it skipped
(branching) are marked; finished tries are copied to ``task_instance_history``.

Outcome files: a task process also writes its final message to
``<outcome folder>/<ti_id>-<try_number>.json`` before sending it. The scheduler deletes the
file once the outcome is committed; a scheduler restarted after a crash applies the files it
finds for instances still marked running, so a finished try is never run again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tradewind.db.models import TaskInstance, TaskInstanceHistory, XCom
from tradewind.db.models.task_instance import TaskInstanceColumns
from tradewind.executors.base import Event, TaskDied, TaskFinished, TaskStarted
from tradewind.runner import outcome_files
from tradewind.runner.log_paths import try_log_path
from tradewind.scheduler import retries, ti_rows, transitions
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.sdk import timezone
from tradewind.sdk.states import TaskInstanceState as TIS

log = logging.getLogger("tradewind.scheduler")

_HISTORY_STATES = {
    TIS.SUCCESS.value,
    TIS.FAILED.value,
    TIS.SKIPPED.value,
    TIS.UP_FOR_RETRY.value,
    TIS.UPSTREAM_FAILED.value,
}
_HISTORY_COLUMNS = [
    name for name in TaskInstanceColumns.__annotations__ if not name.startswith("_")
]
_HISTORY_KEY = ("dag_id", "run_id", "task_id", "map_index", "try_number")
_XCOM_KEY = ("dag_id", "run_id", "task_id", "map_index", "key")


def outcome_path(folder: Path, ti_id: int, try_number: int) -> Path:
    return outcome_files.path_for(folder, ti_id, try_number)


def read_outcome(folder: Path | None, ti_id: int, try_number: int) -> dict[str, Any] | None:
    """The final message a try left behind, or None."""
    if folder is None:
        return None
    return outcome_files.read(outcome_path(folder, ti_id, try_number), ti_id, try_number)


def remove_outcome_files(paths: Iterable[Path]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError:
            log.warning("Could not remove outcome file %s", path, exc_info=True)


def stale_outcome_files(session: Session, folder: Path | None) -> list[Path]:
    """Outcome files whose try is no longer queued or running (already applied, or abandoned)."""
    if folder is None or not folder.is_dir():
        return []
    found: dict[int, list[tuple[int, Path]]] = {}
    for path in folder.iterdir():
        stem = path.name.split(".", 1)[0]
        ti_part, _, try_part = stem.partition("-")
        if not (ti_part.isdigit() and try_part.isdigit()):
            continue
        found.setdefault(int(ti_part), []).append((int(try_part), path))
    if not found:
        return []
    live = {
        (ti_id, try_number)
        for ti_id, try_number in session.execute(
            select(TaskInstance.id, TaskInstance.try_number).where(
                TaskInstance.id.in_(list(found)),
                TaskInstance.state.in_((TIS.QUEUED.value, TIS.RUNNING.value)),
            )
        )
    }
    return [
        path
        for ti_id, tries in found.items()
        for try_number, path in tries
        if (ti_id, try_number) not in live
    ]


def record_history(session: Session, ti: TaskInstance) -> None:
    """Copy a finished try into task_instance_history (one row per try)."""
    record_histories(session, [ti])


def record_histories(session: Session, tis: Iterable[TaskInstance]) -> None:
    """Copy finished tries into task_instance_history, one row per try (updated when there
    already is one): one ``INSERT ... ON CONFLICT DO UPDATE`` for the batch."""
    by_key: dict[tuple[str, str, str, int, int], dict[str, Any]] = {}
    for ti in tis:
        if ti.try_number > 0:
            values = {name: getattr(ti, name) for name in _HISTORY_COLUMNS}
            values["task_instance_id"] = ti.id
            by_key[(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)] = values
    _upsert_many(
        session,
        TaskInstanceHistory.__table__,
        list(by_key.values()),
        key=_HISTORY_KEY,
        update=[name for name in _HISTORY_COLUMNS if name not in _HISTORY_KEY],
    )


def write_xcoms(session: Session, pushed: list[dict[str, Any]]) -> None:
    """Store pushed XComs (``dag_id``, ``run_id``, ``task_id``, ``map_index``, ``key``, ``value``,
    ``timestamp`` each), replacing values already stored under the same keys."""
    by_key = {(x["dag_id"], x["run_id"], x["task_id"], x["map_index"], x["key"]): x for x in pushed}
    _upsert_many(
        session, XCom.__table__, list(by_key.values()), key=_XCOM_KEY, update=["value", "timestamp"]
    )


def _upsert_many(
    session: Session,
    table: Any,
    rows: list[dict[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert ``rows`` (all with the same columns), updating ``update`` where ``key`` exists."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    cache_key = (table.name, dialect, tuple(key), tuple(update))
    statement = _upserts.get(cache_key)
    if statement is None:  # built once: its "excluded" alias costs more than running it
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=list(key), set_={column: statement.excluded[column] for column in update}
        )
        _upserts[cache_key] = statement
    session.execute(statement, rows)


_upserts: dict[tuple[Any, ...], Any] = {}


def fail_try(
    session: Session,
    cache: DagVersionCache,
    ti: TaskInstance,
    reason: str,
    now: datetime,
    log_folder: Path | None,
    *,
    history: list[TaskInstance] | None = None,
) -> None:
    """A try that ended without an outcome (process died, heartbeat lost): retry or fail it.

    With ``history``, the try is added there for the caller's ``record_histories``.
    """
    transitions.fail_or_retry(
        ti, now=now, retry_at=lambda: _retry_at(session, cache, ti, failed_at=now)
    )
    if history is None:
        record_history(session, ti)
    else:
        history.append(ti)
    log.error(
        "Task %s.%s (run %s, try %s) %s: marked %s",
        ti.dag_id,
        ti.task_id,
        ti.run_id,
        ti.try_number,
        reason,
        ti.state,
    )
    if log_folder is not None:
        path = try_log_path(
            log_folder, ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(
                    f"[{now.isoformat()}] ERROR - {reason}; the task is marked {ti.state}\n"
                )
        except OSError:
            pass


def task_of(session: Session, cache: DagVersionCache, ti: TaskInstance) -> Any:
    """The task of the DAG version ``ti`` runs (None when unknown, or when that version cannot
    be read: an unreadable version must not fail the pass that applies every other outcome)."""
    if ti.dag_version_id is None:
        return None
    try:
        version = cache.get(session, ti.dag_version_id)
    except Exception:
        log.exception(
            "Cannot load DAG version %s of task %s.%s", ti.dag_version_id, ti.dag_id, ti.task_id
        )
        return None
    return version.dag.task_dict.get(ti.task_id)


def _retry_at(
    session: Session, cache: DagVersionCache, ti: Any, *, failed_at: datetime
) -> datetime:
    """When the failed try of ``ti`` may be retried (at once when its task is unknown)."""
    task = task_of(session, cache, ti)
    if task is None:
        return failed_at
    return retries.next_retry_at(
        task, dag_id=ti.dag_id, run_id=ti.run_id, try_number=ti.try_number, failed_at=failed_at
    )


def _skip_tasks(
    session: Session,
    ti: Any,
    task_ids: list[str],
    now: datetime,
    to_terminate: list[int] | None,
    rows: dict[int, Any] | None = None,
) -> None:
    """Mark the task instances a branch or short-circuit skipped, as Airflow does: whatever their
    state, so a task that did not wait (trigger rule ``always``) ends skipped as in ``dags test``.
    Those still queued or running are stopped (their ids go to ``to_terminate``).

    With ``rows`` (``ti_rows`` rows by id, the caller writes them), the skipped instances are
    changed as rows too, the ones already there included.
    """
    if rows is None:
        others: list[Any] = list(
            session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == ti.dag_id,
                    TaskInstance.run_id == ti.run_id,
                    TaskInstance.task_id.in_(task_ids),
                )
            )
        )
    else:
        others = []
        for found in ti_rows.load(
            session,
            ti_rows.SKIP,
            _TI.c.dag_id == ti.dag_id,
            _TI.c.run_id == ti.run_id,
            _TI.c.task_id.in_(task_ids),
        ):
            others.append(rows.setdefault(found.id, found))
    for other in others:
        if other.id == ti.id or other.state in (TIS.SKIPPED.value, TIS.REMOVED.value):
            continue
        transitions.skip_and_stop(other, now, to_terminate)


def apply_finished(
    session: Session,
    cache: DagVersionCache,
    ti: TaskInstance,
    message: dict[str, Any],
    now: datetime,
    to_terminate: list[int] | None = None,
    *,
    history: list[TaskInstance] | None = None,
    xcoms: list[dict[str, Any]] | None = None,
    rows: dict[int, Any] | None = None,
) -> None:
    """Record a try's final message on its task instance (state, times, XComs, skips, history).

    With ``history`` and ``xcoms``, the history row and the XComs are added there for the
    caller to write in one go (``record_histories``, ``write_xcoms``); with ``rows``, ``ti`` is
    a ``ti_rows`` row and so are the instances a branch skips (added to ``rows``).
    """
    state = TIS(message["state"])
    start = timezone.parse(message["start_date"]) if message.get("start_date") else now
    end = timezone.parse(message["end_date"]) if message.get("end_date") else now
    reschedule_date = None
    if state == TIS.UP_FOR_RESCHEDULE:
        found = message.get("reschedule_date")
        reschedule_date = timezone.parse(found) if found else now
    transitions.finish(
        ti,
        state,
        start=start,
        end=end,
        reschedule_date=reschedule_date,
        retry_at=lambda: _retry_at(session, cache, ti, failed_at=end),
    )
    if message.get("rendered_fields"):
        ti.rendered_fields = message["rendered_fields"]
    pushed = [
        {
            "dag_id": ti.dag_id,
            "run_id": ti.run_id,
            "task_id": ti.task_id,
            "map_index": ti.map_index,
            "key": key,
            "value": encoded,
            "timestamp": now,
        }
        for key, encoded in message.get("xcoms") or []
    ]
    if xcoms is None:
        write_xcoms(session, pushed)
    else:
        xcoms.extend(pushed)
    if state == TIS.UP_FOR_RESCHEDULE:
        return
    skipped = message.get("skipped_task_ids") or []
    if skipped:
        _skip_tasks(session, ti, skipped, now, to_terminate, rows)
    if state in _HISTORY_STATES:
        if history is None:
            record_history(session, ti)
        else:
            history.append(ti)


_TI = TaskInstance.__table__

# ``transitions.START`` for a batch, one statement; built once: building a statement costs
# about as much as running it.
_START = (
    _TI.update()
    .where(_TI.c.id == bindparam("ti"), _TI.c.state == transitions.only(transitions.START.sources))
    .values(
        state=transitions.only(transitions.START.targets),
        pid=bindparam("pid"),
        hostname=bindparam("host"),
        start_date=func.coalesce(_TI.c.start_date, bindparam("at", type_=_TI.c.start_date.type)),
        last_heartbeat_at=bindparam("at", type_=_TI.c.start_date.type),
    )
)


def record_started(session: Session, events: Iterable[TaskStarted]) -> None:
    """Mark queued instances whose try started as running (one statement for the batch); the
    start is their first heartbeat. Others are left alone (the try's end may have been
    recorded first)."""
    params = [
        {"ti": event.ti_id, "pid": event.pid, "host": event.hostname, "at": event.at}
        for event in events
    ]
    if not params:
        return
    session.flush()
    session.execute(_START, params)


def apply_events(
    session: Session,
    cache: DagVersionCache,
    events: Iterable[Event],
    now: datetime,
    log_folder: Path | None = None,
    to_terminate: list[int] | None = None,
) -> set[tuple[str, str]]:
    """Write the events; return the (dag_id, run_id) of the runs they touched.

    Task instances that must stop (skipped by a branch while running) are added to ``to_terminate``.
    """
    events = list(events)
    if not events:
        return set()
    ended = [event for event in events if not isinstance(event, TaskStarted)]
    ids = {event.ti_id for event in ended}
    # A try that started and ended since the last pass is written once, with its end.
    started = [event for event in events if isinstance(event, TaskStarted)]
    record_started(session, [event for event in started if event.ti_id not in ids])
    events = ended
    if not events:
        return set()
    # Plain rows, every column (history copies them all), written back in one statement.
    rows: dict[int, Any] = {
        ti.id: ti for ti in ti_rows.load(session, ti_rows.ALL, _TI.c.id.in_(sorted(ids)))
    }
    for start in started:
        if start.ti_id in rows:
            transitions.start_row(
                rows[start.ti_id], pid=start.pid, hostname=start.hostname, at=start.at
            )
    touched: set[tuple[str, str]] = set()
    history: list[Any] = []
    xcoms: list[dict[str, Any]] = []
    for event in events:
        ti = rows.get(event.ti_id)
        if ti is None:
            continue
        touched.add((ti.dag_id, ti.run_id))
        if isinstance(event, TaskFinished):
            if ti.state in (TIS.QUEUED.value, TIS.RUNNING.value):
                apply_finished(
                    session,
                    cache,
                    ti,
                    event.message,
                    now,
                    to_terminate,
                    history=history,
                    xcoms=xcoms,
                    rows=rows,
                )
        elif isinstance(event, TaskDied) and ti.state in (TIS.QUEUED.value, TIS.RUNNING.value):
            fail_try(session, cache, ti, event.reason, now, log_folder, history=history)
    ti_rows.write_changes(session, list(rows.values()))
    write_xcoms(session, xcoms)
    record_histories(session, history)
    return touched
