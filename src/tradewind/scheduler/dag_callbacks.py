"""What the scheduler owes finished DAG runs: their
``on_success_callback`` / ``on_failure_callback``.

A run that finishes with a callback records it as owed (``callback_reason``) by the scheduler
job that starts it (``callback_job_id``), in the same transaction that finishes the run. The
debt is settled once the callback process ended. A scheduler that dies first leaves it owed:
another scheduler (or the restarted one) finds the owner gone and runs the callback again, so
callbacks run at least once.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tradewind.db.models import DagRun, Job, JobState, TaskInstance
from tradewind.runner.log_paths import callback_log_path
from tradewind.runner.workload import CallbackWorkload
from tradewind.scheduler import queueing, task_scheduling
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.sdk import timezone
from tradewind.sdk.states import DagRunState
from tradewind.sdk.states import TaskInstanceState as TIS

log = logging.getLogger("tradewind.scheduler")


def owed_by_finished_runs(
    session: Session,
    cache: DagVersionCache,
    evaluation: task_scheduling.EvaluationResult,
    *,
    job_id: int | None,
    log_folder: Path,
) -> list[CallbackWorkload]:
    """DAG callbacks to start for the runs this pass finished; each is recorded on its run
    (``callback_reason``) until it ended, so a scheduler that dies first does not lose it."""
    found: list[CallbackWorkload] = []
    infos: dict[int, Any] = {}
    for run, state in evaluation.finished_runs:
        if run.dag_version_id is None:
            continue
        try:
            version = cache.get(session, run.dag_version_id)
        except Exception:
            continue
        success = state is DagRunState.SUCCESS
        if not getattr(
            version.dag, "has_on_success_callback" if success else "has_on_failure_callback", False
        ):
            continue
        reason = (
            "success"
            if success
            else ("timed_out" if run.id in evaluation.timed_out else "task_failure")
        )
        run.callback_reason = reason
        run.callback_job_id = job_id
        found.append(_workload(session, run, version, reason, infos, log_folder))
    return found


def settle_ended(session: Session, ended: list[tuple[str, str]], *, job_id: int | None) -> None:
    """The DAG callbacks this job ran for these runs have ended: nothing is owed any more."""
    owner = DagRun.callback_job_id.is_(None) if job_id is None else DagRun.callback_job_id == job_id
    for dag_id, run_id in ended:
        session.execute(
            update(DagRun)
            .where(DagRun.dag_id == dag_id, DagRun.run_id == run_id, owner)
            .values(callback_reason=None, callback_job_id=None)
            .execution_options(synchronize_session=False)
        )


#: Runs that owe a callback, found through ``ix_dag_run_callback_reason``: asked for whole rows
#: with ``callback_reason IS NOT NULL``, SQLite reads every run instead (a recovery pass then
#: cost ~100 ms per 200,000 runs of history); asked for ids only, it searches the index.
_OWING = select(DagRun).where(
    DagRun.id.in_(select(DagRun.id).where(DagRun.callback_reason.is_not(None)))
)


def adopt_owed(
    session: Session,
    cache: DagVersionCache,
    *,
    job_id: int | None,
    log_folder: Path,
    running_here: set[tuple[str, str]],
) -> list[CallbackWorkload]:
    """DAG callbacks owed by runs whose scheduler is gone: this job runs them now. (Callbacks
    run at least once: one that finished just before its scheduler died runs again.)

    This job's own owed callbacks that its executor no longer runs (``running_here``) have
    ended (their end comes with the next pass); they are settled here too."""
    found: list[CallbackWorkload] = []
    infos: dict[int, Any] = {}
    alive: dict[int, bool] = {}
    for run in session.scalars(_OWING):
        owner = run.callback_job_id
        if owner == job_id:
            if (run.dag_id, run.run_id) not in running_here:
                run.callback_reason = run.callback_job_id = None
            continue
        if owner is not None:
            if owner not in alive:
                job = session.get(Job, owner)
                alive[owner] = job is not None and job.state == JobState.RUNNING.value
            if alive[owner]:
                continue
        try:
            version = (
                cache.get(session, run.dag_version_id) if run.dag_version_id is not None else None
            )
        except Exception:
            version = None
        if version is None:
            log.error(
                "DAG run %s of %s owes its %s callback, but its DAG version cannot be read; "
                "dropped",
                run.run_id,
                run.dag_id,
                run.callback_reason,
            )
            run.callback_reason = run.callback_job_id = None
            continue
        log.warning(
            "DAG run %s of %s owed its callback (%s) when its scheduler stopped: running it now",
            run.run_id,
            run.dag_id,
            run.callback_reason,
        )
        run.callback_job_id = job_id
        found.append(
            _workload(session, run, version, run.callback_reason or "success", infos, log_folder)
        )
    return found


def _workload(
    session: Session,
    run: DagRun,
    version: Any,
    reason: str,
    infos: dict[int, Any],
    log_folder: Path,
) -> CallbackWorkload:
    success = reason == "success"
    ti = _relevant_ti(session, run, success)
    return CallbackWorkload(
        dag_id=run.dag_id,
        run_id=run.run_id,
        fileloc=version.fileloc,
        source_code=version.source_code,
        run=queueing.run_info(session, run, infos),
        success=success,
        reason=reason,
        log_path=str(callback_log_path(log_folder, run.dag_id, run.run_id)),
        ti_task_id=ti.task_id if ti else None,
        ti_map_index=ti.map_index if ti else -1,
        ti_try_number=ti.try_number if ti else 0,
        ti_state=ti.state if ti else None,
    )


def _relevant_ti(session: Session, run: DagRun, success: bool) -> TaskInstance | None:
    """The task instance a DAG callback's context shows: the last failed one, else the last one."""
    tis = list(
        session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id
            )
        )
    )
    if not tis:
        return None
    never = datetime.min.replace(tzinfo=timezone.UTC)
    if not success:
        failed = [ti for ti in tis if ti.state == TIS.FAILED.value] or [
            ti for ti in tis if ti.state == TIS.UPSTREAM_FAILED.value
        ]
        if failed:
            return max(failed, key=lambda ti: (ti.end_date or never, ti.id))
    return max(tis, key=lambda ti: (ti.end_date or never, ti.id))
