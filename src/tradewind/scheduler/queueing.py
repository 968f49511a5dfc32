"""Choose which scheduled task instances start now, and hand them to the executor.

Highest priority first; within limits: free executor slots (``core.parallelism``), each DAG
run's ``max_active_tasks``, pools (slots used by queued and running instances), and
``max_active_tis_per_dag``. A sensor continuing after a reschedule keeps its try number.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from tradewind.db.models import DagRun, SlotPool, TaskInstance, XCom
from tradewind.runner.log_paths import try_log_path
from tradewind.runner.runtime import RunInfo
from tradewind.runner.workload import TaskWorkload
from tradewind.scheduler import outcomes, ti_rows
from tradewind.scheduler.dag_cache import CachedVersion, DagVersionCache
from tradewind.sdk.states import DagRunState
from tradewind.sdk.states import TaskInstanceState as TIS

log = logging.getLogger("tradewind.scheduler")

ACTIVE = (TIS.QUEUED.value, TIS.RUNNING.value)
_warned_pools: set[str] = set()


# The statements of every pass, built once (building one costs about as much as running it).
_TI = TaskInstance.__table__
_POOL_SIZES = select(SlotPool.pool, SlotPool.slots)
_USAGE = (
    select(_TI.c.dag_id, _TI.c.run_id, _TI.c.pool, func.count(), func.sum(_TI.c.pool_slots))
    .where(_TI.c.state.in_(ACTIVE))
    .group_by(_TI.c.dag_id, _TI.c.run_id, _TI.c.pool)
)
_ACTIVE_PER_TASK = (
    select(_TI.c.dag_id, _TI.c.task_id, func.count())
    .where(_TI.c.state.in_(ACTIVE))
    .group_by(_TI.c.dag_id, _TI.c.task_id)
)
_PREVIOUS_SUCCESS = (
    select(DagRun.data_interval_start, DagRun.data_interval_end, DagRun.start_date)
    .where(
        DagRun.dag_id == bindparam("dag_id"),
        DagRun.state == DagRunState.SUCCESS.value,
        DagRun.logical_date < bindparam("logical_date", type_=DagRun.__table__.c.logical_date.type),
    )
    .order_by(DagRun.logical_date.desc())
    .limit(1)
)
_CANDIDATES = (
    ti_rows.select_rows(ti_rows.QUEUE, _TI.c.state == TIS.SCHEDULED.value)
    .order_by(_TI.c.priority_weight.desc(), _TI.c.scheduled_dttm, _TI.c.map_index, _TI.c.id)
    .limit(bindparam("page_size"))
)
_RUNS = select(DagRun).where(
    DagRun.run_id.in_(bindparam("run_ids", expanding=True)),
    DagRun.dag_id.in_(bindparam("dag_ids", expanding=True)),
)
_XCOM = XCom.__table__
_CLEAR_XCOMS = _XCOM.delete().where(  # the table's, not the entity's: no ORM session bookkeeping
    tuple_(_XCOM.c.dag_id, _XCOM.c.run_id, _XCOM.c.task_id, _XCOM.c.map_index).in_(
        bindparam("keys", expanding=True)
    )
)


def _pool_sizes(session: Session) -> dict[str, int]:
    return {name: slots for name, slots in session.execute(_POOL_SIZES)}


def _usage(session: Session) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """Pool slots used, and instances queued or running per run, in one query."""
    rows = session.execute(_USAGE)
    pool_used: Counter[str] = Counter()
    run_active: Counter[tuple[str, str]] = Counter()
    for dag_id, run_id, pool, count, slots in rows:
        pool_used[pool] += int(slots or 0)
        run_active[(dag_id, run_id)] += count
    return pool_used, run_active


def _active_per_task(session: Session) -> Counter[tuple[str, str]]:
    rows = session.execute(_ACTIVE_PER_TASK)
    return Counter({(dag_id, task_id): count for dag_id, task_id, count in rows})


def run_info(session: Session, run: DagRun, cache: dict[int, RunInfo]) -> RunInfo:
    """What a task sees of its run, including the previous successful run's interval."""
    known = cache.get(run.id)
    if known is not None:
        return known
    previous = None
    if run.logical_date is not None:
        previous = session.execute(
            _PREVIOUS_SUCCESS, {"dag_id": run.dag_id, "logical_date": run.logical_date}
        ).first()
    info = RunInfo(
        dag_id=run.dag_id,
        run_id=run.run_id,
        logical_date=run.logical_date,
        data_interval_start=run.data_interval_start,
        data_interval_end=run.data_interval_end,
        run_type=run.run_type,
        conf=dict(run.conf or {}),
        start_date=run.start_date,
        run_after=run.run_after,
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
    session: Session,
    cache: DagVersionCache,
    *,
    slots: int,
    now: datetime,
    job_id: int | None,
    log_folder: Path,
    for_update: bool = False,
    outcome_folder: Path | None = None,
    known_runs: Iterable[DagRun] = (),
) -> list[TaskWorkload]:
    """Mark up to ``slots`` scheduled instances queued and return their workloads.

    ``known_runs``: runs the caller already read in this transaction (not read again).

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
    runs: dict[tuple[str, str], DagRun] = {(run.dag_id, run.run_id): run for run in known_runs}
    run_infos: dict[int, RunInfo] = {}
    workloads: list[TaskWorkload] = []
    queued_per_task: Counter[tuple[str, str]] = Counter()
    rows: list[ti_rows.TaskInstanceRow] = []
    clear_xcoms: list[tuple[str, str, str, int]] = []
    table = TaskInstance.__table__
    page_size = min(PAGE_SIZE, max(16, 2 * slots))
    session.flush()
    for _page in range(MAX_PAGES):
        # A first page about the size of what can start (most passes need no more); the next
        # ones full size, so blocked instances never hide runnable ones further down.
        query = _CANDIDATES
        if full_pools:
            query = query.where(table.c.pool.not_in(sorted(full_pools)))
        if full_runs:
            query = query.where(tuple_(table.c.dag_id, table.c.run_id).not_in(sorted(full_runs)))
        if seen:
            query = query.where(table.c.id.not_in(sorted(seen)))
        if for_update:
            query = query.with_for_update(skip_locked=True)
        candidates = ti_rows.rows_of(
            ti_rows.QUEUE, session.execute(query, {"page_size": page_size})
        )
        rows.extend(candidates)
        if not candidates:
            break
        if pools is None:
            pools = _pool_sizes(session)
            pool_used, run_active = _usage(session)
        missing = {(ti.dag_id, ti.run_id) for ti in candidates} - set(runs)
        if missing:
            for found in session.scalars(
                _RUNS,
                {
                    "run_ids": sorted({key[1] for key in missing}),
                    "dag_ids": sorted({key[0] for key in missing}),
                },
            ):
                runs[(found.dag_id, found.run_id)] = found
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
                log.exception(
                    "Cannot load DAG version %s of task %s.%s",
                    ti.dag_version_id,
                    ti.dag_id,
                    ti.task_id,
                )
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
            size = pools.get(ti.pool)
            if size is None:
                if ti.pool not in _warned_pools:
                    log.warning(
                        "Task %s.%s uses pool %r, which does not exist; it waits until the pool is "
                        "created",
                        ti.dag_id,
                        ti.task_id,
                        ti.pool,
                    )
                    _warned_pools.add(ti.pool)
                full_pools.add(ti.pool)
                continue
            if size >= 0 and pool_used[ti.pool] + ti.pool_slots > size:
                if pool_used[ti.pool] >= size:
                    full_pools.add(ti.pool)
                continue
            limit = getattr(task, "max_active_tis_per_dag", None)
            if limit:
                if task_active is None:  # what this call queued is not written yet: count it here
                    task_active = _active_per_task(session) + queued_per_task
                if task_active[(ti.dag_id, ti.task_id)] >= limit:
                    continue
                task_active[(ti.dag_id, ti.task_id)] += 1
            queued_per_task[(ti.dag_id, ti.task_id)] += 1
            workloads.append(
                _queue(
                    session,
                    ti,
                    task,
                    run,
                    version,
                    now,
                    job_id,
                    log_folder,
                    outcome_folder,
                    run_infos,
                    clear_xcoms,
                )
            )
            run_active[run_key] += 1
            pool_used[ti.pool] += ti.pool_slots
        if len(workloads) >= slots or len(candidates) < page_size:
            break
        page_size = PAGE_SIZE
    # A new try starts without the XComs of the one before.
    for start in range(0, len(clear_xcoms), 500):
        session.execute(_CLEAR_XCOMS, {"keys": clear_xcoms[start : start + 500]})
    ti_rows.write_changes(session, rows)
    return workloads


def _queue(
    session: Session,
    ti: Any,
    task: Any,
    run: DagRun,
    version: CachedVersion,
    now: datetime,
    job_id: int | None,
    log_folder: Path,
    outcome_folder: Path | None,
    run_infos: dict[int, RunInfo],
    clear_xcoms: list[tuple[str, str, str, int]],
) -> TaskWorkload:
    """Mark one instance queued by ``job_id`` and describe the try to run."""
    continuing_sensor = ti.reschedule_date is not None
    if not continuing_sensor:
        ti.try_number = (ti.try_number or 0) + 1
        ti.start_date = None
        if ti.try_number == 1 or ti.max_tries is None:
            ti.max_tries = task.retries
        clear_xcoms.append((ti.dag_id, ti.run_id, ti.task_id, ti.map_index))
    ti.state = TIS.QUEUED.value
    ti.queued_dttm = now
    ti.queued_by_job_id = job_id
    ti.end_date = None
    ti.duration = None
    timeout = task.execution_timeout.total_seconds() if task.execution_timeout else None
    return TaskWorkload(
        ti_id=ti.id,
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        task_id=ti.task_id,
        map_index=ti.map_index,
        try_number=ti.try_number,
        max_tries=ti.max_tries,
        fileloc=version.fileloc,
        source_code=version.source_code,
        run=run_info(session, run, run_infos),
        log_path=str(
            try_log_path(log_folder, ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)
        ),
        sensor_start_date=ti.start_date if continuing_sensor else None,
        poke_number=0,
        execution_timeout=timeout,
        pool_slots=ti.pool_slots,
        outcome_path=str(outcomes.outcome_path(outcome_folder, ti.id, ti.try_number))
        if outcome_folder
        else None,
    )
