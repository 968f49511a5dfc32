"""Set aside what keeps scheduling from going on: an event no pass can apply, a DAG version
that cannot be read.

A pass is one transaction. One event it cannot apply (an outcome message it cannot read, say)
would make every pass fail and be tried again with the same events, forever: nothing would be
scheduled any more. So after ``scheduler.poison_pass_attempts`` failed passes in a row, each
pending event is tried alone, in a transaction rolled back at once; one that fails on its own is
set aside: the error is logged, and its task instance is marked failed with the reason in its
note and its try's log (where Airflow writes what the scheduler did to a try). An error of the
database itself (it is away) blames no event: the passes go on being tried.

A DAG version that cannot be read (its serialized DAG is corrupt) fails no pass, as every
reader guards against it, but its runs could never move. Once it failed to load in
``poison_pass_attempts`` passes, its queued and running runs are failed, and their unfinished
task instances with them, the reason in their note and log.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Container, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from tradewind.db import engine as db_engine
from tradewind.db.models import DagRun, TaskInstance
from tradewind.exceptions import MetastoreError
from tradewind.executors.base import Event, TaskFinished
from tradewind.runner.log_paths import try_log_path
from tradewind.scheduler import outcomes, run_transitions, transitions
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.sdk.states import DagRunState
from tradewind.sdk.states import TaskInstanceState as TIS

log = logging.getLogger("tradewind.scheduler")

_UNFINISHED_TI = (
    None,
    TIS.SCHEDULED.value,
    TIS.QUEUED.value,
    TIS.RUNNING.value,
    TIS.UP_FOR_RETRY.value,
    TIS.UP_FOR_RESCHEDULE.value,
    TIS.DEFERRED.value,
)
_UNFINISHED_RUN = (DagRunState.QUEUED.value, DagRunState.RUNNING.value)


class _Probe(Exception):
    """Raised to roll back a transaction that only tried an event."""


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is unreachable or busy, which blames no event."""
    cause = exc.__cause__ if isinstance(exc, MetastoreError) else exc
    return isinstance(cause, (OperationalError, InterfaceError, PoolTimeout))


def find_poison(
    engine: Engine, events: list[Event], apply: Callable[[Session, list[Event]], Any]
) -> list[tuple[Event, str]]:
    """The events that ``apply`` fails on, each alone (nothing is written). None when the
    database itself fails, or when every one of several events fails: then the fault is not in
    the events, and failing all their tries would only spread it."""
    poison: list[tuple[Event, str]] = []

    def attempt(session: Session, event: Event) -> None:
        apply(session, [event])
        raise _Probe

    for event in events:
        try:
            db_engine.run_in_transaction(engine, lambda s, e=event: attempt(s, e))  # type: ignore[misc]
        except _Probe:
            continue
        except Exception as exc:
            if is_outage(exc):
                return []
            poison.append((event, f"{type(exc).__name__}: {exc}"))
    if len(events) > 1 and len(poison) == len(events):
        log.error("Every pending event fails a pass on its own: none is set aside")
        return []
    return poison


def set_aside_pending(
    engine: Engine,
    cache: DagVersionCache,
    events: list[Event],
    clock: Callable[[], datetime],
    outcome_folder: Path,
    log_folder: Path | None = None,
) -> list[Event]:
    """``events`` without those that fail a pass on their own, whose task instances are failed.
    Any error here is logged and leaves ``events`` as they were."""
    try:
        now = clock()
        found = find_poison(
            engine,
            events,
            lambda session, batch: outcomes.apply_events(session, cache, batch, now, None, []),
        )
        if found:
            db_engine.run_in_transaction(
                engine, lambda session: set_aside_events(session, found, now, log_folder)
            )
    except Exception:
        log.exception("Could not look for the events that fail every pass")
        return events
    outcomes.remove_outcome_files(outcome_files(found, outcome_folder))
    bad = {id(event) for event, _ in found}
    return [event for event in events if id(event) not in bad]


def set_aside_events(
    session: Session, poison: list[tuple[Event, str]], now: datetime, log_folder: Path | None
) -> set[tuple[str, str]]:
    """Fail the task instances of events no pass can apply; return their (dag_id, run_id)."""
    touched: set[tuple[str, str]] = set()
    for event, error in poison:
        ti = session.get(TaskInstance, event.ti_id)
        log.error(
            "Setting aside %s for task instance %s: it failed every pass (%s)",
            type(event).__name__,
            event.ti_id,
            error,
        )
        if ti is None or ti.state not in (TIS.QUEUED.value, TIS.RUNNING.value):
            continue
        touched.add((ti.dag_id, ti.run_id))
        reason = f"The scheduler could not apply what this try reported: {error}"
        _fail(session, ti, reason, now)
        _write_log(ti, log_folder, now, reason)
    return touched


def outcome_files(poison: list[tuple[Event, str]], folder: Path) -> list[Path]:
    """The outcome files of set-aside finished tries (no pass will apply them)."""
    return [
        outcomes.outcome_path(folder, event.ti_id, event.message["try_number"])
        for event, _ in poison
        if isinstance(event, TaskFinished) and isinstance(event.message.get("try_number"), int)
    ]


class UnreadableVersions:
    """Counts the passes in which each DAG version failed to load; says which to set aside."""

    def __init__(self, attempts: int) -> None:
        self.attempts = max(1, attempts)
        self._failed: collections.Counter[int] = collections.Counter()
        self._errors: dict[int, str] = {}

    def note(self, errors: dict[int, str], loaded: Container[int] = ()) -> None:
        """One pass's load errors (version id -> error); ``loaded``: the versions read fine."""
        for version_id in [v for v in self._failed if v in loaded]:
            self.forget([version_id])
        for version_id, error in errors.items():
            self._failed[version_id] += 1
            self._errors[version_id] = error

    def due(self) -> dict[int, str]:
        """The versions that failed to load in ``attempts`` passes, with their last error."""
        return {
            version_id: self._errors[version_id]
            for version_id, count in self._failed.items()
            if count >= self.attempts
        }

    def forget(self, version_ids: Iterable[int]) -> None:
        for version_id in version_ids:
            self._failed.pop(version_id, None)
            self._errors.pop(version_id, None)


def set_aside_versions(
    session: Session, versions: dict[int, str], now: datetime, log_folder: Path | None
) -> set[tuple[str, str]]:
    """Fail the queued and running runs of unreadable DAG versions, with their unfinished task
    instances; return their (dag_id, run_id)."""
    touched: set[tuple[str, str]] = set()
    if not versions:
        return touched
    runs = list(
        session.scalars(
            select(DagRun).where(
                DagRun.dag_version_id.in_(sorted(versions)), DagRun.state.in_(_UNFINISHED_RUN)
            )
        )
    )
    for run in runs:
        reason = (
            f"The scheduler cannot read DAG version {run.dag_version_id} of this run: "
            f"{versions[run.dag_version_id or 0]}"
        )
        log.error("DAG run %s of %s set aside, marked failed: %s", run.run_id, run.dag_id, reason)
        touched.add((run.dag_id, run.run_id))
        run_transitions.set_aside_run(run, now, reason)
        tis = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id
            )
        )
        for ti in tis:
            if ti.state in _UNFINISHED_TI:
                _fail(session, ti, reason, now)
                _write_log(ti, log_folder, now, reason)
    return touched


def _fail(session: Session, ti: TaskInstance, reason: str, now: datetime) -> None:
    transitions.set_aside(ti, now, reason)
    outcomes.record_history(session, ti)


def _write_log(ti: TaskInstance, log_folder: Path | None, now: datetime, reason: str) -> None:
    if log_folder is None or ti.try_number < 1:
        return
    path = try_log_path(log_folder, ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"[{now.isoformat()}] ERROR - {reason}; the task is marked failed\n")
    except OSError:
        pass
