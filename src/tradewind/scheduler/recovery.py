"""After a crash: find task instances whose process is gone and put them right.

A scheduler (or worker) job is dead when its heartbeat is older than the timeout, or when it
ran on this host and its process no longer exists. Instances it had queued but not started go
back to scheduled; instances it was running failed their try (retried if they have retries
left). Nothing is lost and nothing runs twice at once.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db.models import Job, JobState, TaskInstance
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.scheduler.outcomes import fail_try
from tradewind.sdk.states import TaskInstanceState as TIS

log = logging.getLogger("tradewind.scheduler")


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
    dead: set[int] = set()
    for job in session.scalars(select(Job).where(Job.state == JobState.RUNNING.value)):
        if job.id == exclude:
            continue
        stale = job.latest_heartbeat < now - timedelta(seconds=timeout)
        gone = job.hostname == hostname and not _process_alive(job.pid)
        if stale or gone:
            job.state = JobState.FAILED.value
            job.end_date = now
            dead.add(job.id)
    return dead


def reset_orphans(
    session: Session, cache: DagVersionCache, *, my_job_id: int, now: datetime, timeout: float,
    running_here: set[int], log_folder: Path | None,
) -> int:
    """Fix instances owned by dead jobs (and by this job but unknown to its executor)."""
    dead = dead_job_ids(session, now, timeout, exclude=my_job_id)
    fixed = 0
    rows = session.scalars(select(TaskInstance).where(TaskInstance.state.in_((TIS.QUEUED.value, TIS.RUNNING.value))))
    for ti in rows:
        owner = ti.queued_by_job_id
        mine_but_lost = owner == my_job_id and ti.id not in running_here
        orphaned = owner is None or owner in dead or mine_but_lost
        if not orphaned and owner != my_job_id:
            alive = session.get(Job, owner)
            orphaned = alive is None or alive.state != JobState.RUNNING.value
        if not orphaned:
            continue
        fixed += 1
        if ti.state == TIS.QUEUED.value:
            ti.state = TIS.SCHEDULED.value
            if ti.reschedule_date is None:
                ti.try_number = max(0, (ti.try_number or 1) - 1)
            ti.queued_by_job_id = None
            log.warning("Task %s.%s (run %s) was queued by a job that is gone: scheduled again",
                        ti.dag_id, ti.task_id, ti.run_id)
        else:
            fail_try(session, cache, ti, "the task's process was lost (its scheduler or worker stopped)", now, log_folder)
    session.flush()
    return fixed
