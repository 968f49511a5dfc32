"""The one owner of state changes: every move of a task instance's state is a transition here.

A transition has a name (Airflow's word where it has one), the states it may start from and
the states it may end in; ``move`` refuses anything else with ``InvalidStateTransition``, so
a bug shows up as an error, not as a task instance in a state nothing expected. Each named
transition also sets the columns that go with the new state (times, try number, owner), so
the same change is written once, whoever makes it: the scheduler's passes, recovery after a
crash, the services behind the CLI and the API, and ``dags test`` in memory.

Transitions take any object with the task instance's attributes: an ORM ``TaskInstance``, a
``ti_rows.TaskInstanceRow`` (the scheduler's batched passes; the caller writes the changes in
one statement per set of columns) or a ``dags test`` instance. None of them does I/O, and
this module imports no SQLAlchemy: ``dags test`` uses it without a metastore. ``start`` is
applied to a batch as one UPDATE built from its sources and targets
(``outcomes.record_started``).

Allowed moves (``none`` is no state; * is every state)::

    schedule        none, up_for_retry, up_for_reschedule -> scheduled
    settle          none                -> skipped, upstream_failed, removed, failed
    succeed_empty   none                -> success      (an EmptyOperator: no try is run)
    remove          none, scheduled     -> removed      (its task left the DAG)
    queue           scheduled           -> queued
    start           queued              -> running
    adopt           queued, running     -> running      (a live try outlived its scheduler)
    finish          queued, running     -> success, failed, skipped, up_for_retry,
                                           up_for_reschedule
    fail_or_retry   queued, running     -> up_for_retry, failed (the try died unreported)
    requeue_try     queued              -> scheduled    (queued, never started)
    run_in_process  none, up_for_retry, up_for_reschedule -> running   (``dags test``)
    skip_and_stop   * but skipped, removed -> skipped
    mark            *                   -> success, failed, skipped (a user's choice)
    clear           * but queued, running -> none

DAG runs, backfills and jobs: ``run_transitions``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from tradewind.exceptions import InvalidStateTransition
from tradewind.sdk import states
from tradewind.sdk.states import TaskInstanceState as TIS


@dataclasses.dataclass(frozen=True)
class Transition:
    """One named move of a state machine: from any of ``sources`` to any of ``targets``."""

    name: str
    sources: frozenset[Any]
    targets: frozenset[Any]

    def allows(self, source: Any, target: Any) -> bool:
        return source in self.sources and target in self.targets


def transition(name: str, sources: Collection[Any], targets: Collection[Any]) -> Transition:
    return Transition(name, frozenset(sources), frozenset(targets))


def move(obj: Any, step: Transition, target: Any) -> None:
    """Set ``obj.state`` to ``target`` if ``step`` allows it from the state ``obj`` is in."""
    if not step.allows(obj.state, target):
        what = " ".join(str(part) for part in (type(obj).__name__, getattr(obj, "id", "")) if part)
        raise InvalidStateTransition(
            f"{step.name}: {what} cannot go from {obj.state or 'no state'} "
            f"to {target or 'no state'}"
        )
    obj.state = target


def only(found: frozenset[Any]) -> Any:
    """The one state of a transition's sources or targets, for a statement that needs one
    value (an executemany statement cannot hold an expanding IN)."""
    (state,) = found
    return state


#: Every state a task instance can be in, "no state" (None) included.
ANY = frozenset({None, *TIS})
#: Queued or running: a try of it may be alive.
LIVE = frozenset({TIS.QUEUED, TIS.RUNNING})
#: Not finished: the scheduler or a try may still move it.
UNFINISHED = frozenset(
    {
        None,
        TIS.SCHEDULED,
        TIS.QUEUED,
        TIS.RUNNING,
        TIS.UP_FOR_RETRY,
        TIS.UP_FOR_RESCHEDULE,
        TIS.DEFERRED,
    }
)
_WAITING = frozenset({None, TIS.UP_FOR_RETRY, TIS.UP_FOR_RESCHEDULE})
_TRY_ENDS = frozenset(
    {TIS.SUCCESS, TIS.FAILED, TIS.SKIPPED, TIS.UP_FOR_RETRY, TIS.UP_FOR_RESCHEDULE}
)

SCHEDULE = transition("schedule", _WAITING, {TIS.SCHEDULED})
SETTLE = transition("settle", {None}, {TIS.SKIPPED, TIS.UPSTREAM_FAILED, TIS.REMOVED, TIS.FAILED})
SUCCEED_EMPTY = transition("succeed_empty", {None}, {TIS.SUCCESS})
REMOVE = transition("remove", {None, TIS.SCHEDULED}, {TIS.REMOVED})
QUEUE = transition("queue", {TIS.SCHEDULED}, {TIS.QUEUED})
START = transition("start", {TIS.QUEUED}, {TIS.RUNNING})
ADOPT = transition("adopt", LIVE, {TIS.RUNNING})
FINISH = transition("finish", LIVE, _TRY_ENDS)
FAIL_OR_RETRY = transition("fail_or_retry", LIVE, {TIS.UP_FOR_RETRY, TIS.FAILED})
REQUEUE_TRY = transition("requeue_try", {TIS.QUEUED}, {TIS.SCHEDULED})
RUN_IN_PROCESS = transition("run_in_process", _WAITING, {TIS.RUNNING})
SKIP_AND_STOP = transition("skip_and_stop", ANY - {TIS.SKIPPED, TIS.REMOVED}, {TIS.SKIPPED})
MARK = transition("mark", ANY, {TIS.SUCCESS, TIS.FAILED, TIS.SKIPPED})
CLEAR = transition("clear", ANY - LIVE, {None})
#: Not finished, but what it belongs to cannot be scheduled (an unreadable DAG version, an
#: event that fails every pass): failed, so scheduling of everything else goes on.
SET_ASIDE = transition("set_aside", UNFINISHED, {TIS.FAILED})

#: Every task instance transition, by name.
TASK_INSTANCE = {
    step.name: step
    for step in (
        SCHEDULE,
        SETTLE,
        SUCCEED_EMPTY,
        REMOVE,
        QUEUE,
        START,
        ADOPT,
        FINISH,
        FAIL_OR_RETRY,
        REQUEUE_TRY,
        RUN_IN_PROCESS,
        SKIP_AND_STOP,
        MARK,
        CLEAR,
        SET_ASIDE,
    )
}


# -- deciding what runs next ---------------------------------------------------------------


def schedule(ti: Any, now: datetime) -> None:
    """Ready to run (its upstream allows it, or its retry or next poke is due)."""
    move(ti, SCHEDULE, TIS.SCHEDULED)
    ti.scheduled_dttm = now


def settle(ti: Any, state: TIS, now: datetime) -> None:
    """Decided without running a try: by its trigger rule, or by expanding a mapped task."""
    move(ti, SETTLE, state)
    ti.end_date = now


def succeed_empty(ti: Any, now: datetime) -> None:
    """An EmptyOperator without callbacks succeeds at once, as one try that took no time."""
    move(ti, SUCCEED_EMPTY, TIS.SUCCESS)
    ti.try_number = (ti.try_number or 0) + 1
    ti.start_date = ti.end_date = now
    ti.duration = 0.0


def remove(ti: Any) -> None:
    """Its task is no longer in the DAG version the run uses."""
    move(ti, REMOVE, TIS.REMOVED)


def queue(ti: Any, *, retries: int, now: datetime, job_id: int | None) -> bool:
    """Handed to ``job_id``'s executor. True when this is a new try; a sensor poking again
    after a reschedule goes on with its try (and its start date)."""
    move(ti, QUEUE, TIS.QUEUED)
    new_try = ti.reschedule_date is None
    if new_try:
        ti.try_number = (ti.try_number or 0) + 1
        ti.start_date = None
        if ti.try_number == 1 or ti.max_tries is None:
            ti.max_tries = retries
    ti.queued_dttm = now
    ti.queued_by_job_id = job_id
    ti.end_date = None
    ti.duration = None
    return new_try


def requeue_try(ti: Any) -> None:
    """Queued, but its try never started (its scheduler stopped or died): scheduled again,
    and the try it did not use is given back."""
    move(ti, REQUEUE_TRY, TIS.SCHEDULED)
    if ti.reschedule_date is None:
        ti.try_number = max(0, (ti.try_number or 1) - 1)
    ti.queued_by_job_id = None


# -- a try's life --------------------------------------------------------------------------


def start_row(ti: Any, *, pid: int | None, hostname: str | None, at: datetime) -> None:
    """``start`` on a loaded row, for a try whose end is recorded in the same pass (one
    UPDATE for both instead of two). Like ``outcomes.record_started``, an instance no longer
    queued is left alone."""
    if ti.state != only(START.sources):
        return
    move(ti, START, TIS.RUNNING)
    ti.pid, ti.hostname, ti.last_heartbeat_at = pid, hostname, at
    if ti.start_date is None:
        ti.start_date = at


def adopt(
    ti: Any, *, pid: int, hostname: str, started: datetime, job_id: int, now: datetime
) -> None:
    """Job ``job_id`` supervises the live try from now on; a try whose start was never
    recorded is recorded as running."""
    unrecorded = ti.state == TIS.QUEUED
    move(ti, ADOPT, TIS.RUNNING)
    if unrecorded:
        ti.pid, ti.hostname, ti.start_date = pid, hostname, started
    ti.queued_by_job_id = job_id
    ti.last_heartbeat_at = now


def finish(
    ti: Any,
    state: TIS,
    *,
    start: datetime,
    end: datetime,
    reschedule_date: datetime | None = None,
    retry_at: Callable[[], datetime] | None = None,
) -> None:
    """The try reported how it ended. A rescheduled sensor is not over: it keeps no end date
    and waits for ``reschedule_date``; a try up for retry waits for ``retry_at()`` (called
    only then: it looks the task up)."""
    move(ti, FINISH, state)
    ti.start_date = ti.start_date or start
    ti.end_date = end
    ti.duration = max(0.0, (end - ti.start_date).total_seconds())
    ti.pid = None
    if state == TIS.UP_FOR_RESCHEDULE:
        ti.reschedule_date = reschedule_date
        ti.end_date = None
        return
    ti.reschedule_date = None
    if state == TIS.UP_FOR_RETRY:
        ti.next_retry_at = retry_at() if retry_at is not None else end


def fail_or_retry(ti: Any, *, now: datetime, retry_at: Callable[[], datetime]) -> TIS:
    """The try ended without a word (its process died, its heartbeat stopped): up for retry
    while it has tries left (``retry_at()`` then), failed otherwise. Returns the state."""
    state = states.after_failed_try(ti.try_number, ti.max_tries)
    move(ti, FAIL_OR_RETRY, state)
    ti.end_date = now
    if ti.start_date is not None:
        ti.duration = (now - ti.start_date).total_seconds()
    ti.pid = None
    ti.reschedule_date = None
    if state == TIS.UP_FOR_RETRY:
        ti.next_retry_at = retry_at()
    return state


def run_in_process(ti: Any) -> None:
    """``dags test`` runs a try at once: there is no scheduler or executor in between."""
    move(ti, RUN_IN_PROCESS, TIS.RUNNING)


# -- stopping, marking, clearing -----------------------------------------------------------


def skip_and_stop(ti: Any, now: datetime, to_terminate: list[int] | None = None) -> None:
    """Skipped whatever it was doing (its run timed out or failed fast, or a branch left it
    out); a try still queued or running is added to ``to_terminate`` to be stopped."""
    if to_terminate is not None and ti.state in LIVE:
        to_terminate.append(ti.id)
    move(ti, SKIP_AND_STOP, TIS.SKIPPED)
    ti.end_date = now
    ti.next_retry_at = None
    ti.reschedule_date = None


def mark(ti: Any, state: TIS, now: datetime) -> None:
    """Set by a user (Airflow's ``set_state``): keep the times it has, fill in the rest."""
    move(ti, MARK, state)
    ti.start_date = ti.start_date or now
    ti.end_date = ti.end_date or now
    ti.duration = max(0.0, (ti.end_date - ti.start_date).total_seconds())
    ti.next_retry_at = None
    ti.reschedule_date = None


def set_aside(ti: Any, now: datetime, reason: str) -> None:
    """Failed by the scheduler, not by its try: ``reason`` says why, in its note (where
    Airflow shows what was done to a task instance from outside)."""
    move(ti, SET_ASIDE, TIS.FAILED)
    ti.end_date = now
    if ti.start_date is not None:
        ti.duration = (now - ti.start_date).total_seconds()
    ti.pid = None
    ti.next_retry_at = None
    ti.reschedule_date = None
    ti.note = ti.note or reason


def clear(ti: Any) -> None:
    """No state again, so the scheduler runs it anew; it keeps its try number (the next try
    raises it) and what it ran is in its history."""
    move(ti, CLEAR, None)
    ti.next_retry_at = None
    ti.reschedule_date = None
    ti.external_executor_id = None
    ti.pid = None
