"""After a crash: find task instances whose process is gone and put them right.

A scheduler (or worker) job is dead when its heartbeat is older than the timeout, or when it
ran on this host and its process no longer exists (or is this very process: a restarted
container reuses pids). Instances it had queued but not started go back to scheduled; for
instances it was running, a try that finished and left its outcome file gets that outcome;
any other try failed (retried if it has retries left). Nothing is lost and nothing runs twice
at once.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db.models import Job, JobState, TaskInstance
from tradewind.scheduler import outcomes
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.sdk.states import TaskInstanceState as TIS

log = logging.getLogger("tradewind.scheduler")


@dataclasses.dataclass
class RecoveryResult:
    fixed: int = 0
    touched: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    #: Outcome files applied or found stale: delete them once the transaction is committed.
    files_done: list[Path] = dataclasses.field(default_factory=list)


def _process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_job_ids(session: Session, now: datetime, timeout: float, *, exclude: int | None = None) -> set[int]:
    """Jobs still marked running whose heartbeat stopped (or whose local process is gone)."""
    hostname = socket.gethostname()
    me = os.getpid()
    dead: set[int] = set()
    for job in session.scalars(select(Job).where(Job.state == JobState.RUNNING.value)):
        if job.id == exclude:
            continue
        stale = job.latest_heartbeat < now - timedelta(seconds=timeout)
        local = job.hostname == hostname
        gone = local and (job.pid == me or not _process_alive(job.pid))
        if stale or gone:
            job.state = JobState.FAILED.value
            job.end_date = now
            dead.add(job.id)
            log.warning("Job %s (%s, pid %s on %s) is gone: its task instances are recovered",
                        job.id, job.job_type, job.pid, job.hostname)
    return dead


def reset_orphans(
    session: Session, cache: DagVersionCache, *, my_job_id: int, now: datetime, timeout: float,
    running_here: set[int], log_folder: Path | None, outcome_folder: Path | None = None,
    sweep_outcome_files: bool = False,
) -> RecoveryResult:
    """Fix instances owned by dead jobs (and by this job but unknown to its executor)."""
    result = RecoveryResult()
    dead = dead_job_ids(session, now, timeout, exclude=my_job_id)
    alive_cache: dict[int, bool] = {}
    rows = list(session.scalars(
        select(TaskInstance).where(TaskInstance.state.in_((TIS.QUEUED.value, TIS.RUNNING.value)))))
    for ti in rows:
        owner = ti.queued_by_job_id
        mine_but_lost = owner == my_job_id and ti.id not in running_here
        orphaned = owner is None or owner in dead or mine_but_lost
        if not orphaned and owner != my_job_id:
            if owner not in alive_cache:
                job = session.get(Job, owner)
                alive_cache[owner] = job is not None and job.state == JobState.RUNNING.value  # type: ignore[index]
            orphaned = not alive_cache[owner]  # type: ignore[index]
        if not orphaned:
            continue
        result.fixed += 1
        result.touched.add((ti.dag_id, ti.run_id))
        message = outcomes.read_outcome(outcome_folder, ti.id, ti.try_number)
        if message is not None:
            outcomes.apply_finished(session, cache, ti, message, now)
            result.files_done.append(outcomes.outcome_path(outcome_folder, ti.id, ti.try_number))  # type: ignore[arg-type]
            log.warning("Task %s.%s (run %s, try %s) finished while its scheduler was down: recorded %s",
                        ti.dag_id, ti.task_id, ti.run_id, ti.try_number, ti.state)
        elif ti.state == TIS.QUEUED.value:
            ti.state = TIS.SCHEDULED.value
            if ti.reschedule_date is None:
                ti.try_number = max(0, (ti.try_number or 1) - 1)
            ti.queued_by_job_id = None
            log.warning("Task %s.%s (run %s) was queued by a job that is gone: scheduled again",
                        ti.dag_id, ti.task_id, ti.run_id)
        else:
            outcomes.fail_try(session, cache, ti, "the task's process was lost (its scheduler or worker stopped)",
                              now, log_folder)
    session.flush()
    if sweep_outcome_files:
        result.files_done.extend(outcomes.stale_outcome_files(session, outcome_folder))
    return result
