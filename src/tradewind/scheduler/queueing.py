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

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tradewind.db.models import DagRun, SlotPool, TaskInstance, XCom
from tradewind.executors.workload import TaskWorkload
from tradewind.runner.log_paths import try_log_path
from tradewind.runner.runtime import RunInfo
from tradewind.scheduler.dag_cache import DagVersionCache
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


def queue_ready(
    session: Session, cache: DagVersionCache, *, slots: int, now: datetime, job_id: int | None,
    log_folder: Path, for_update: bool = False,
) -> list[TaskWorkload]:
    """Mark up to ``slots`` scheduled instances queued and return their workloads."""
    if slots <= 0:
        return []
    query = (
        select(TaskInstance).where(TaskInstance.state == TIS.SCHEDULED.value)
        .order_by(TaskInstance.priority_weight.desc(), TaskInstance.scheduled_dttm, TaskInstance.map_index)
        .limit(max(slots * 4, 64))
    )
    if for_update:
        query = query.with_for_update(skip_locked=True)
    candidates = list(session.scalars(query))
    if not candidates:
        return []
    pools = _pool_sizes(session)
    pool_used = _pool_usage(session)
    run_active = _active_per_run(session)
    task_active: Counter[tuple[str, str]] | None = None
    runs = {
        (run.dag_id, run.run_id): run
        for run in session.scalars(select(DagRun).where(
            DagRun.run_id.in_({ti.run_id for ti in candidates}), DagRun.dag_id.in_({ti.dag_id for ti in candidates})))
    }
    run_infos: dict[int, RunInfo] = {}
    workloads: list[TaskWorkload] = []
    for ti in candidates:
        if len(workloads) >= slots:
            break
        run = runs.get((ti.dag_id, ti.run_id))
        if run is None or run.state != DagRunState.RUNNING.value or ti.dag_version_id is None:
            continue
        version = cache.get(session, ti.dag_version_id)
        dag = version.dag
        task = dag.task_dict.get(ti.task_id)
        if task is None:
            ti.state = TIS.REMOVED.value
            continue
        if run_active[(ti.dag_id, ti.run_id)] >= dag.max_active_tasks:
            continue
        size = pools.get(ti.pool)
        if size is None:
            if ti.pool not in _warned_pools:
                log.warning("Task %s.%s uses pool %r, which does not exist; it waits until the pool is created",
                            ti.dag_id, ti.task_id, ti.pool)
                _warned_pools.add(ti.pool)
            continue
        if size >= 0 and pool_used[ti.pool] + ti.pool_slots > size:
            continue
        limit = getattr(task, "max_active_tis_per_dag", None)
        if limit:
            if task_active is None:
                task_active = _active_per_task(session)
            if task_active[(ti.dag_id, ti.task_id)] >= limit:
                continue
            task_active[(ti.dag_id, ti.task_id)] += 1
        continuing_sensor = ti.reschedule_date is not None
        if not continuing_sensor:
            ti.try_number = (ti.try_number or 0) + 1
            ti.start_date = None
            session.execute(delete(XCom).where(
                XCom.dag_id == ti.dag_id, XCom.run_id == ti.run_id, XCom.task_id == ti.task_id,
                XCom.map_index == ti.map_index))
        ti.state = TIS.QUEUED.value
        ti.queued_dttm = now
        ti.queued_by_job_id = job_id
        ti.end_date = None
        ti.duration = None
        ti.max_tries = task.retries if not continuing_sensor else ti.max_tries
        run_active[(ti.dag_id, ti.run_id)] += 1
        pool_used[ti.pool] += ti.pool_slots
        timeout = task.execution_timeout.total_seconds() if task.execution_timeout else None
        workloads.append(TaskWorkload(
            ti_id=ti.id, dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=ti.map_index,
            try_number=ti.try_number, max_tries=ti.max_tries, fileloc=version.fileloc, source_code=version.source_code,
            run=run_info(session, run, run_infos),
            log_path=str(try_log_path(log_folder, ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)),
            sensor_start_date=ti.start_date if continuing_sensor else None,
            poke_number=0, execution_timeout=timeout, pool_slots=ti.pool_slots,
        ))
    session.flush()
    return workloads
