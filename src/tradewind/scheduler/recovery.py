"""After a crash: find task instances whose supervisor is gone and put them right.

A scheduler (or worker) job is dead when its heartbeat is older than the timeout, or when it
ran on this host and its process no longer exists (or is this very process: a restarted
container reuses pids). Its instances are settled here, and a restart costs no healthy try:

- a try still running on this host (its beacon names a live process, ``runner.beacons``) is
  adopted: this scheduler's executor supervises it from now on, and the instance keeps its
  try number;
- a try that finished meanwhile and left its outcome file gets that outcome;
- an instance queued but never started goes back to scheduled (a try that opened its log
  did start, recorded or not);
- any other try really died without an outcome: it failed (retried if it has retries left).

A try on another host cannot be seen from here: its instance is failed once its job's
heartbeat is older than the timeout, as before. A try of this home still running although
its instance moved on (marked, or failed by a scheduler of another host while this host had
none) is stopped. Nothing is lost and nothing runs twice at once.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db.models import Job, JobState, TaskInstance
from tradewind.executors.base import BaseExecutor
from tradewind.runner.log_paths import try_log_path
from tradewind.runner.process_identity import ProcessIdentity
from tradewind.scheduler import outcomes, run_transitions, transitions
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.sdk.states import TaskInstanceState as TIS

log = logging.getLogger("tradewind.scheduler")


@dataclasses.dataclass
class RecoveryResult:
    fixed: int = 0
    adopted: int = 0
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


def dead_job_ids(
    session: Session, now: datetime, timeout: float, *, exclude: int | None = None
) -> set[int]:
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
            run_transitions.declare_dead(job, now)
            dead.add(job.id)
            log.warning(
                "Job %s (%s, pid %s on %s) is gone: its task instances are recovered",
                job.id,
                job.job_type,
                job.pid,
                job.hostname,
            )
    return dead


def reset_orphans(
    session: Session,
    cache: DagVersionCache,
    *,
    my_job_id: int,
    now: datetime,
    timeout: float,
    executor: BaseExecutor,
    log_folder: Path | None,
    outcome_folder: Path | None = None,
    sweep_outcome_files: bool = False,
) -> RecoveryResult:
    """Fix instances owned by dead jobs (and by this job but unknown to its executor)."""
    result = RecoveryResult()
    dead = dead_job_ids(session, now, timeout, exclude=my_job_id)
    running_here = executor.running_ti_ids
    orphans = executor.orphans()
    alive_cache: dict[int, bool] = {}

    def owner_alive(owner: int | None) -> bool:
        if owner is None or owner in dead:
            return False
        if owner not in alive_cache:
            job = session.get(Job, owner)
            alive_cache[owner] = job is not None and job.state == JobState.RUNNING.value
        return alive_cache[owner]

    rows = list(
        session.scalars(
            select(TaskInstance).where(
                TaskInstance.state.in_((TIS.QUEUED.value, TIS.RUNNING.value))
            )
        )
    )
    seen: set[tuple[int, int]] = set()
    for ti in rows:
        seen.add((ti.id, ti.try_number))
        owner = ti.queued_by_job_id
        orphaned = ti.id not in running_here if owner == my_job_id else not owner_alive(owner)
        if not orphaned:
            continue
        if executor.adopts_remote_tries and ti.id not in running_here:
            # Its worker goes on with it (or its heartbeat stops): report its end from here.
            executor.adopt_remote(ti.id, ti.try_number, started=ti.state == TIS.RUNNING.value)
            ti.queued_by_job_id = my_job_id
            result.adopted += 1
            continue
        identity = orphans.get((ti.id, ti.try_number))
        if identity is not None and _adopt(
            session,
            cache,
            ti,
            identity,
            executor,
            my_job_id=my_job_id,
            now=now,
            log_folder=log_folder,
            outcome_folder=outcome_folder,
        ):
            result.adopted += 1
            continue
        result.fixed += 1
        result.touched.add((ti.dag_id, ti.run_id))
        message = outcomes.read_outcome(outcome_folder, ti.id, ti.try_number)
        if message is not None:
            outcomes.apply_finished(session, cache, ti, message, now)
            result.files_done.append(outcomes.outcome_path(outcome_folder, ti.id, ti.try_number))  # type: ignore[arg-type]  # an outcome was read from it
            log.warning(
                "Task %s.%s (run %s, try %s) finished while its scheduler was down: recorded %s",
                ti.dag_id,
                ti.task_id,
                ti.run_id,
                ti.try_number,
                ti.state,
            )
        elif ti.state == TIS.QUEUED.value and not _left_a_log(ti, log_folder):
            transitions.requeue_try(ti)
            log.warning(
                "Task %s.%s (run %s) was queued by a job that is gone: scheduled again",
                ti.dag_id,
                ti.task_id,
                ti.run_id,
            )
        else:
            outcomes.fail_try(
                session,
                cache,
                ti,
                "the task's process was lost (its scheduler or worker stopped)",
                now,
                log_folder,
            )
    session.flush()
    _stop_unwanted(
        session,
        executor,
        {key: identity for key, identity in orphans.items() if key not in seen},
        my_job_id,
        owner_alive,
    )
    if sweep_outcome_files:
        result.files_done.extend(outcomes.stale_outcome_files(session, outcome_folder))
    return result


def _left_a_log(ti: TaskInstance, log_folder: Path | None) -> bool:
    """Whether the queued try of ``ti`` started (a task process opens its log first thing)
    although its start was never recorded: then it used its try. A sensor continuing after a
    reschedule keeps its try number, and its earlier pokes' log: it is not counted."""
    if log_folder is None or ti.reschedule_date is not None or not ti.try_number:
        return False
    return try_log_path(
        log_folder, ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number
    ).exists()


def _adopt(
    session: Session,
    cache: DagVersionCache,
    ti: TaskInstance,
    identity: ProcessIdentity,
    executor: BaseExecutor,
    *,
    my_job_id: int,
    now: datetime,
    log_folder: Path | None,
    outcome_folder: Path | None,
) -> bool:
    """Have the executor supervise the live try of ``ti``; record that on the instance."""
    hostname = socket.gethostname()
    recorded = ti.state == TIS.RUNNING.value  # a queued row's host and pid are its previous try's
    if recorded and (
        ti.hostname not in (None, hostname) or (ti.pid is not None and ti.pid != identity.pid)
    ):
        return False  # not the process this instance recorded: not ours to take
    started = ti.start_date or identity.started_at() or now
    time_left = None
    try:
        limit = getattr(outcomes.task_of(session, cache, ti), "execution_timeout", None)
    except Exception:  # its version cannot be read: the try's own alarm still holds
        limit = None
    if limit is not None:
        time_left = (started + limit - now).total_seconds()
    index = f"[{ti.map_index}]" if ti.map_index >= 0 else ""
    label = f"{ti.dag_id}.{ti.task_id}{index} {ti.run_id} try {ti.try_number}"
    outcome = (
        str(outcomes.outcome_path(outcome_folder, ti.id, ti.try_number)) if outcome_folder else None
    )
    if not executor.adopt(
        ti.id, ti.try_number, identity, outcome_path=outcome, label=label, time_left=time_left
    ):
        return False
    # A queued one started in the instant before its scheduler could record it.
    transitions.adopt(
        ti, pid=identity.pid, hostname=hostname, started=started, job_id=my_job_id, now=now
    )
    log.warning("Task %s (process %d) outlived its scheduler: adopted", label, identity.pid)
    if log_folder is not None:
        path = try_log_path(
            log_folder, ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(
                    f"[{now.isoformat()}] WARNING - The scheduler running this try stopped; "
                    f"scheduler job {my_job_id} (process {os.getpid()}) took it over\n"
                )
        except OSError:
            pass
    return True


def _stop_unwanted(
    session: Session,
    executor: BaseExecutor,
    unmatched: dict[tuple[int, int], ProcessIdentity],
    my_job_id: int,
    owner_alive: Callable[[int | None], bool],
) -> None:
    """Tries still running although their instance moved on while nobody supervised them."""
    if not unmatched:
        return
    rows = {
        ti_id: (state, try_number, owner)
        for ti_id, state, try_number, owner in session.execute(
            select(
                TaskInstance.id,
                TaskInstance.state,
                TaskInstance.try_number,
                TaskInstance.queued_by_job_id,
            ).where(TaskInstance.id.in_(sorted({ti_id for ti_id, _ in unmatched})))
        )
    }
    for (ti_id, try_number), identity in unmatched.items():
        state, current_try, owner = rows.get(ti_id, (None, None, None))
        if owner != my_job_id and owner_alive(owner):
            continue  # its scheduler runs and looks after it
        executor.disown(
            identity,
            f"try {try_number} of task instance {ti_id} outlived its scheduler, but the "
            f"instance is now {state or 'gone'} (try {current_try})",
        )
