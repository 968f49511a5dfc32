"""The scheduler's own rows: its job (registered, beating, finished) and the tries it holds.

Other schedulers read the job's heartbeat to decide whether its tries are orphans
(``scheduler.recovery``); the tries' heartbeats tell the same for each try.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.db import engine as db_engine
from tradewind.db.models import Job, JobState, JobType, TaskInstance
from tradewind.executors.base import BaseExecutor, Event, TaskFinished, TaskStarted
from tradewind.scheduler import outcomes, run_transitions, transitions
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.scheduler.scheduler_pass import SchedulerPass
from tradewind.sdk.states import TaskInstanceState as TIS

log = logging.getLogger("tradewind.scheduler")


def register(session: Session, now: datetime, executor_kind: str | None = None) -> int:
    """A new running scheduler job for this process; its id."""
    job = Job(
        job_type=JobType.SCHEDULER.value,
        state=JobState.RUNNING.value,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        latest_heartbeat=now,
        executor_class=executor_kind or None,
    )
    session.add(job)
    session.flush()
    return job.id


def beat(
    session: Session, job_id: int | None, running: list[int], now: datetime
) -> tuple[list[int], list[int]]:
    """Beat for the job and the tries it runs. Returns the tries changed from outside while
    they ran (marked failed or success, cleared: to stop, as Airflow does) and those another
    scheduler adopted (it took this job for dead: to let go)."""
    job = session.get(Job, job_id)
    if job is not None:
        run_transitions.beat(job, now)
    stale: list[int] = []
    taken: list[int] = []
    for start in range(0, len(running), 500):
        chunk = running[start : start + 500]
        rows = session.execute(
            select(TaskInstance.id, TaskInstance.state, TaskInstance.queued_by_job_id).where(
                TaskInstance.id.in_(chunk)
            )
        ).all()
        for ti_id, state, owner in rows:
            if state not in (TIS.QUEUED.value, TIS.RUNNING.value):
                stale.append(ti_id)
            elif owner != job_id:
                taken.append(ti_id)
        session.query(TaskInstance).filter(TaskInstance.id.in_(chunk)).update(
            {TaskInstance.last_heartbeat_at: now}, synchronize_session=False
        )
    return stale, taken


def heartbeat(
    engine: Engine, executor: BaseExecutor, job_id: int | None, clock: Callable[[], datetime]
) -> None:
    """Beat for the job and its tries; stop tries changed from outside while they ran, let go
    of those another scheduler adopted."""
    # A try that reported its outcome may be success in its row already, while its process
    # ends: it is no longer beaten for, nor taken for changed from outside.
    # Remote tries are beaten for by their workers, through the execution API.
    running = (
        []
        if executor.heartbeats_remotely
        else sorted(executor.running_ti_ids - executor.reported_ti_ids)
    )
    stale, taken = db_engine.run_in_transaction(
        engine, lambda session: beat(session, job_id, running, clock())
    )
    for ti_id in stale:
        log.warning(
            "Task instance %s was changed from outside while it ran: stopping its process", ti_id
        )
        executor.terminate(ti_id)
    for ti_id in taken:  # another scheduler took this job for dead and adopted the try
        executor.release(ti_id)


def record_started(engine: Engine, events: list[Event]) -> None:
    """Record started tries as running without a pass."""
    started = [event for event in events if isinstance(event, TaskStarted)]
    db_engine.run_in_transaction(engine, lambda session: outcomes.record_started(session, started))


def finish(
    engine: Engine, passes: SchedulerPass, events: list[Event], clock: Callable[[], datetime]
) -> None:
    """Record the last events of a stopping scheduler and end its job; tries it queued but never
    started go back to scheduled for the next scheduler."""
    files_done = db_engine.run_in_transaction(
        engine,
        lambda session: _finish(
            session,
            passes.job_id,
            passes.cache,
            events,
            clock(),
            passes.log_folder,
            passes.outcome_folder,
        ),
    )
    outcomes.remove_outcome_files(files_done)


def _finish(
    session: Session,
    job_id: int | None,
    cache: DagVersionCache,
    events: list[Event],
    now: datetime,
    log_folder: Path,
    outcome_folder: Path,
) -> list[Path]:
    files_done: list[Path] = []
    outcomes.apply_events(session, cache, events, now, log_folder)
    for event in events:
        if isinstance(event, TaskFinished) and isinstance(event.message.get("try_number"), int):
            files_done.append(
                outcomes.outcome_path(outcome_folder, event.ti_id, event.message["try_number"])
            )
    for ti in session.scalars(
        select(TaskInstance).where(
            TaskInstance.state == TIS.QUEUED.value, TaskInstance.queued_by_job_id == job_id
        )
    ):
        transitions.requeue_try(ti)
    job = session.get(Job, job_id)
    if job is not None:
        run_transitions.end_job(job, now)
    return files_done
