"""State changes of DAG runs, of backfills and of jobs (Tradewind's own long-running
processes), each a named transition with its allowed moves, as for task instances
(``transitions``, whose ``move`` every change here goes through).

Allowed moves (* is every state)::

    DAG runs    start_run     queued            -> running
                finish_run    running           -> success, failed   (its tasks decided it)
                requeue_run   success, failed   -> queued             (cleared, or re-run)
                mark_run      *                 -> queued, success, failed (a user's choice)
                cancel_run    queued            -> failed             (its backfill was cancelled)
    backfills   pause         running, paused   -> running, paused
                cancel        running, paused   -> cancelled
                complete      running, paused   -> completed
    jobs        beat          *                 -> running
                declare_dead  running           -> failed
                end_job       *                 -> success
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tradewind.db.models import BackfillDagRun, BackfillState, DagRun, JobState
from tradewind.scheduler import transitions
from tradewind.scheduler.transitions import move, transition
from tradewind.sdk.states import FINISHED_STATES, DagRunState
from tradewind.sdk.states import TaskInstanceState as TIS

_FINISHED_RUN = {DagRunState.SUCCESS, DagRunState.FAILED}
_OPEN_BACKFILL = {BackfillState.RUNNING, BackfillState.PAUSED}

START_RUN = transition("start_run", {DagRunState.QUEUED}, {DagRunState.RUNNING})
FINISH_RUN = transition("finish_run", {DagRunState.RUNNING}, _FINISHED_RUN)
REQUEUE_RUN = transition("requeue_run", _FINISHED_RUN, {DagRunState.QUEUED})
MARK_RUN = transition("mark_run", set(DagRunState), {DagRunState.QUEUED, *_FINISHED_RUN})
CANCEL_RUN = transition("cancel_run", {DagRunState.QUEUED}, {DagRunState.FAILED})
SET_ASIDE_RUN = transition(
    "set_aside_run", {DagRunState.QUEUED, DagRunState.RUNNING}, {DagRunState.FAILED}
)
PAUSE = transition("pause", _OPEN_BACKFILL, _OPEN_BACKFILL)
CANCEL = transition("cancel", _OPEN_BACKFILL, {BackfillState.CANCELLED})
COMPLETE = transition("complete", _OPEN_BACKFILL, {BackfillState.COMPLETED})
BEAT = transition("beat", set(JobState), {JobState.RUNNING})
DECLARE_DEAD = transition("declare_dead", {JobState.RUNNING}, {JobState.FAILED})
END_JOB = transition("end_job", set(JobState), {JobState.SUCCESS})

#: Every transition here, by name.
RUN = {
    step.name: step
    for step in (START_RUN, FINISH_RUN, REQUEUE_RUN, MARK_RUN, CANCEL_RUN, SET_ASIDE_RUN)
}
BACKFILL = {step.name: step for step in (PAUSE, CANCEL, COMPLETE)}
JOB = {step.name: step for step in (BEAT, DECLARE_DEAD, END_JOB)}

#: Task instances a run marked failed fails; the other unfinished ones it skips (Airflow).
_MARK_FAILED = {TIS.RUNNING, TIS.DEFERRED, TIS.UP_FOR_RESCHEDULE}


# -- DAG runs --------------------------------------------------------------------------------


def start_run(run: Any, now: datetime) -> None:
    move(run, START_RUN, DagRunState.RUNNING)
    run.start_date = run.start_date or now
    run.end_date = None


def finish_run(run: Any, state: DagRunState, now: datetime) -> None:
    move(run, FINISH_RUN, state)
    run.end_date = now


def requeue_run(run: Any, now: datetime) -> bool:
    """A finished run goes back to queued, to run again from the start (its ``clear_number``
    counts how often). False, and nothing changed, for a run not finished yet."""
    if run.state not in REQUEUE_RUN.sources:
        return False
    move(run, REQUEUE_RUN, DagRunState.QUEUED)
    run.clear_number = (run.clear_number or 0) + 1
    run.queued_at = now
    run.start_date = None
    run.end_date = None
    run.last_scheduling_decision = None
    return True


def set_aside_run(run: Any, now: datetime, reason: str) -> None:
    """Failed by the scheduler because it cannot be scheduled (its DAG version is
    unreadable); ``reason`` goes in its note. Its task instances are set aside one by one."""
    move(run, SET_ASIDE_RUN, DagRunState.FAILED)
    run.end_date = now
    run.note = run.note or reason


def mark_run(run: Any, tis: Iterable[Any], state: DagRunState, now: datetime) -> None:
    """Set by a user, with its task instances as Airflow does: success marks every one not
    successful yet success; failed marks running ones failed and other unfinished ones
    skipped. Queued changes only the run, so the scheduler looks at it again."""
    if state == DagRunState.SUCCESS:
        for ti in tis:
            if ti.state != TIS.SUCCESS:
                transitions.mark(ti, TIS.SUCCESS, now)
    elif state == DagRunState.FAILED:
        for ti in tis:
            if ti.state in _MARK_FAILED:
                transitions.mark(ti, TIS.FAILED, now)
            elif ti.state not in FINISHED_STATES:
                transitions.mark(ti, TIS.SKIPPED, now)
    move(run, MARK_RUN, state)
    if state == DagRunState.QUEUED:
        run.queued_at = now
        run.end_date = None
        run.last_scheduling_decision = None
    else:
        run.start_date = run.start_date or now
        run.end_date = now


# -- backfills -------------------------------------------------------------------------------


def pause(row: Any, paused: bool, now: datetime) -> None:
    """Pause (start no more of its runs) or resume a backfill."""
    move(row, PAUSE, BackfillState.PAUSED if paused else BackfillState.RUNNING)
    row.is_paused = paused
    row.updated_at = now


def cancel(session: Session, row: Any, now: datetime) -> None:
    """Stop a backfill: its runs not started yet fail (one statement); those running go on.

    Unlike Airflow, it is not left paused: a run of it cleared later must still start
    (apache/airflow#72337).
    """
    session.execute(
        update(DagRun)
        .where(
            DagRun.id.in_(
                select(BackfillDagRun.dag_run_id).where(BackfillDagRun.backfill_id == row.id)
            ),
            DagRun.state == transitions.only(CANCEL_RUN.sources),
        )
        .values(state=transitions.only(CANCEL_RUN.targets), end_date=now, note="backfill cancelled")
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    move(row, CANCEL, BackfillState.CANCELLED)
    row.is_paused = False
    row.completed_at = now
    row.updated_at = now


def complete(row: Any, now: datetime) -> None:
    """None of its runs is queued or running any more."""
    move(row, COMPLETE, BackfillState.COMPLETED)
    row.completed_at = now
    row.updated_at = now
    row.is_paused = False


# -- jobs ------------------------------------------------------------------------------------


def beat(job: Any, now: datetime) -> None:
    """The process is alive (again, should another have taken it for dead meanwhile)."""
    move(job, BEAT, JobState.RUNNING)
    job.latest_heartbeat = now


def declare_dead(job: Any, now: datetime) -> None:
    """Its heartbeat stopped, or its process is gone; its task instances are recovered."""
    move(job, DECLARE_DEAD, JobState.FAILED)
    job.end_date = now


def end_job(job: Any, now: datetime) -> None:
    """The process stopped in order."""
    move(job, END_JOB, JobState.SUCCESS)
    job.end_date = now
