"""Choose which scheduled task instances start now, and hand them to the executor.

Highest priority first; within limits: free executor slots (``core.parallelism``), each DAG
run's ``max_active_tasks``, pools (slots used by queued and running instances), and
``max_active_tis_per_dag``. A sensor continuing after a reschedule keeps its try number.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.orm import Session

from tradewind.db.models import DagRun, SlotPool, TaskInstance, XCom
from tradewind.executors.workload import TaskWorkload
from tradewind.runner.log_paths import try_log_path
from tradewind.runner.runtime import RunInfo
from tradewind.scheduler import outcomes
from tradewind.scheduler.dag_cache import CachedVersion, DagVersionCache
from tradewind.sdk.states import DagRunState
from tradewind.sdk.states import TaskInstanceState as TIS

log = logging.getLogger("tradewind.scheduler")

ACTIVE = (TIS.QUEUED.value, TIS.RUNNING.value)
_warned_pools: set[str] = set()


def _pool_sizes(session: Session) -> dict[str, int]:
    return {name: slots for name, slots in session.execute(select(SlotPool.pool, SlotPool.slots))}


def _pool_usage(session: Session) -> Counter[str]:
    rows = session.execute(
        select(TaskInstance.pool, func.sum(TaskInstance.pool_slots))
        .where(TaskInstance.state.in_(ACTIVE)).group_by(TaskInstance.pool)
    )
    return Counter({pool: int(used or 0) for pool, used in rows})


def _active_per_run(session: Session) -> Counter[tuple[str, str]]:
    rows = session.execute(
        select(TaskInstance.dag_id, TaskInstance.run_id, func.count())
        .where(TaskInstance.state.in_(ACTIVE)).group_by(TaskInstance.dag_id, TaskInstance.run_id)
    )
    return Counter({(dag_id, run_id): count for dag_id, run_id, count in rows})


def _active_per_task(session: Session) -> Counter[tuple[str, str]]:
    rows = session.execute(
        select(TaskInstance.dag_id, TaskInstance.task_id, func.count())
        .where(TaskInstance.state.in_(ACTIVE)).group_by(TaskInstance.dag_id, TaskInstance.task_id)
    )
    return Counter({(dag_id, task_id): count for dag_id, task_id, count in rows})


def run_info(session: Session, run: DagRun, cache: dict[int, RunInfo]) -> RunInfo:
    """What a task sees of its run, including the previous successful run's interval."""
    known = cache.get(run.id)
    if known is not None:
        return known
    previous = None
    if run.logical_date is not None:
        previous = session.execute(
            select(DagRun.data_interval_start, DagRun.data_interval_end, DagRun.start_date)
            .where(DagRun.dag_id == run.dag_id, DagRun.state == DagRunState.SUCCESS.value,
                   DagRun.logical_date < run.logical_date)
            .order_by(DagRun.logical_date.desc()).limit(1)
        ).first()
    info = RunInfo(
        dag_id=run.dag_id, run_id=run.run_id, logical_date=run.logical_date,
        data_interval_start=run.data_interval_start, data_interval_end=run.data_interval_end,
        run_type=run.run_type, conf=dict(run.conf or {}), start_date=run.start_date, run_after=run.run_after,
        prev_data_interval_start_success=previous[0] if previous else None,
        prev_data_interval_end_success=previous[1] if previous else None,
        prev_start_date_success=previous[2] if previous else None,
        clear_number=run.clear_number or 0,
    )
    cache[run.id] = info
    return info


#: Scheduled instances read per query. When slots remain after a page, the next page leaves
#: out what the earlier ones held back (full pools, runs at max_active_tasks, instances seen),
#: so blocked high-priority instances never starve the others.
PAGE_SIZE = 256
MAX_PAGES = 8


def queue_ready(
    session: Session, cache: DagVersionCache, *, slots: int, now: datetime, job_id: int | None,
    log_folder: Path, for_update: bool = False, outcome_folder: Path | None = None,
) -> list[TaskWorkload]:
    """Mark up to ``slots`` scheduled instances queued and return their workloads.

    Highest ``priority_weight`` first (then the longest waiting, then map index), skipping
    instances whose pool is full, whose run is at ``max_active_tasks`` or whose task is at
    ``max_active_tis_per_dag``; those keep waiting without blocking lower-priority ones.
    """
    if slots <= 0:
        return []
    pools: dict[str, int] | None = None
    pool_used: Counter[str] = Counter()
    run_active: Counter[tuple[str, str]] = Counter()
    task_active: Counter[tuple[str, str]] | None = None
    full_pools: set[str] = set()
    full_runs: set[tuple[str, str]] = set()
    seen: set[int] = set()
    runs: dict[tuple[str, str], DagRun] = {}
    run_infos: dict[int, RunInfo] = {}
    workloads: list[TaskWorkload] = []
    for _page in range(MAX_PAGES):
        query = (
            select(TaskInstance).where(TaskInstance.state == TIS.SCHEDULED.value)
            .order_by(TaskInstance.priority_weight.desc(), TaskInstance.scheduled_dttm, TaskInstance.map_index,
                      TaskInstance.id)
            .limit(PAGE_SIZE)
        )
        if full_pools:
            query = query.where(TaskInstance.pool.not_in(sorted(full_pools)))
        if full_runs:
            query = query.where(tuple_(TaskInstance.dag_id, TaskInstance.run_id).not_in(sorted(full_runs)))
        if seen:
            query = query.where(TaskInstance.id.not_in(sorted(seen)))
        if for_update:
            query = query.with_for_update(skip_locked=True)
        candidates = list(session.scalars(query))
        if not candidates:
            break
        if pools is None:
            pools = _pool_sizes(session)
            pool_used = _pool_usage(session)
            run_active = _active_per_run(session)
        missing = {(ti.dag_id, ti.run_id) for ti in candidates} - set(runs)
        if missing:
            for run in session.scalars(select(DagRun).where(
                    DagRun.run_id.in_({key[1] for key in missing}), DagRun.dag_id.in_({key[0] for key in missing}))):
                runs[(run.dag_id, run.run_id)] = run
        for ti in candidates:
            if len(workloads) >= slots:
                break
            seen.add(ti.id)
            run_key = (ti.dag_id, ti.run_id)
            if ti.pool in full_pools or run_key in full_runs:
                continue
            run = runs.get(run_key)
            if run is None or run.state != DagRunState.RUNNING.value or ti.dag_version_id is None:
                full_runs.add(run_key)
                continue
            try:
                version = cache.get(session, ti.dag_version_id)
            except Exception:  # an unreadable version must not stop every other DAG
                log.exception("Cannot load DAG version %s of task %s.%s", ti.dag_version_id, ti.dag_id, ti.task_id)
                full_runs.add(run_key)
                continue
            dag = version.dag
            task = dag.task_dict.get(ti.task_id)
            if task is None:
                ti.state = TIS.REMOVED.value
                continue
            if run_active[run_key] >= dag.max_active_tasks:
                full_runs.add(run_key)
                continue
            size = pools.get(ti.pool)  # type: ignore[union-attr]
            if size is None:
                if ti.pool not in _warned_pools:
                    log.warning("Task %s.%s uses pool %r, which does not exist; it waits until the pool is created",
                                ti.dag_id, ti.task_id, ti.pool)
                    _warned_pools.add(ti.pool)
                full_pools.add(ti.pool)
                continue
            if size >= 0 and pool_used[ti.pool] + ti.pool_slots > size:
                if pool_used[ti.pool] >= size:
                    full_pools.add(ti.pool)
                continue
            limit = getattr(task, "max_active_tis_per_dag", None)
            if limit:
                if task_active is None:
                    task_active = _active_per_task(session)
                if task_active[(ti.dag_id, ti.task_id)] >= limit:
                    continue
                task_active[(ti.dag_id, ti.task_id)] += 1
            workloads.append(_queue(session, ti, task, run, version, now, job_id, log_folder, outcome_folder, run_infos))
            run_active[run_key] += 1
            pool_used[ti.pool] += ti.pool_slots
        if len(workloads) >= slots or len(candidates) < PAGE_SIZE:
            break
    session.flush()
    return workloads


def _queue(
    session: Session, ti: TaskInstance, task: Any, run: DagRun, version: CachedVersion, now: datetime,
    job_id: int | None, log_folder: Path, outcome_folder: Path | None, run_infos: dict[int, RunInfo],
) -> TaskWorkload:
    """Mark one instance queued by ``job_id`` and describe the try to run."""
    continuing_sensor = ti.reschedule_date is not None
    if not continuing_sensor:
        ti.try_number = (ti.try_number or 0) + 1
        ti.start_date = None
        if ti.try_number == 1 or ti.max_tries is None:
            ti.max_tries = task.retries
        session.execute(delete(XCom).where(
            XCom.dag_id == ti.dag_id, XCom.run_id == ti.run_id, XCom.task_id == ti.task_id,
            XCom.map_index == ti.map_index))
    ti.state = TIS.QUEUED.value
    ti.queued_dttm = now
    ti.queued_by_job_id = job_id
    ti.end_date = None
    ti.duration = None
    timeout = task.execution_timeout.total_seconds() if task.execution_timeout else None
    return TaskWorkload(
        ti_id=ti.id, dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=ti.map_index,
        try_number=ti.try_number, max_tries=ti.max_tries, fileloc=version.fileloc, source_code=version.source_code,
        run=run_info(session, run, run_infos),
        log_path=str(try_log_path(log_folder, ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)),
        sensor_start_date=ti.start_date if continuing_sensor else None,
        poke_number=0, execution_timeout=timeout, pool_slots=ti.pool_slots,
        outcome_path=str(outcomes.outcome_path(outcome_folder, ti.id, ti.try_number)) if outcome_folder else None,
    )
