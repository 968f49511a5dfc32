"""Queue the scheduled task instances that start now, and describe their tries.

Reads the candidates a page at a time (highest priority first) with what limits them (pool
sizes and use, active instances per run and task), lets ``queue_policy.choose`` decide, then
marks the chosen ones queued. A sensor continuing after a reschedule keeps its try number.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select, tuple_
from sqlalchemy.orm import Session, aliased

from tradewind.db import key_match
from tradewind.db.models import DagRun, SlotPool, TaskInstance, XCom
from tradewind.runner.log_paths import try_log_path
from tradewind.runner.runtime import RunInfo
from tradewind.runner.workload import TaskWorkload
from tradewind.scheduler import outcomes, queue_policy, ti_rows, transitions
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
_RUN = DagRun.__table__
_previous = aliased(_RUN)
_PREVIOUS_SUCCESS_ID = (
    select(_previous.c.id)
    .where(
        _previous.c.dag_id == _RUN.c.dag_id,
        _previous.c.state == DagRunState.SUCCESS.value,
        _previous.c.logical_date < _RUN.c.logical_date,
    )
    .order_by(_previous.c.logical_date.desc())
    .limit(1)
    .correlate(_RUN)
    .scalar_subquery()
)
#: The previous successful run's interval and start, for several runs at once.
_PREVIOUS_SUCCESS = (
    select(
        _RUN.c.id,
        _previous.c.data_interval_start,
        _previous.c.data_interval_end,
        _previous.c.start_date,
    )
    .select_from(_RUN.join(_previous, _previous.c.id == _PREVIOUS_SUCCESS_ID))
    .where(_RUN.c.id.in_(bindparam("ids", expanding=True)))
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
_XCOM_KEY = (_XCOM.c.dag_id, _XCOM.c.run_id, _XCOM.c.task_id, _XCOM.c.map_index)


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
    if run.id not in cache:
        cache.update(run_infos(session, [run]))
    return cache[run.id]


def run_infos(session: Session, runs: Iterable[DagRun]) -> dict[int, RunInfo]:
    """``run_info`` of each of ``runs``, by run id, in one query."""
    runs = list(runs)
    previous: dict[int, Any] = {}
    ids = [run.id for run in runs if run.logical_date is not None]
    if ids:
        previous = {row[0]: row[1:] for row in session.execute(_PREVIOUS_SUCCESS, {"ids": ids})}
    return {run.id: _run_info(run, previous.get(run.id)) for run in runs}


def _run_info(run: DagRun, previous: Any) -> RunInfo:
    return RunInfo(
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
    Which instances start is ``queue_policy.choose``'s decision, page by page.
    """
    if slots <= 0:
        return []
    capacity: queue_policy.Capacity | None = None
    seen: set[int] = set()
    runs: dict[tuple[str, str], DagRun] = {(run.dag_id, run.run_id): run for run in known_runs}
    chosen: list[tuple[ti_rows.TaskInstanceRow, Any, DagRun, CachedVersion]] = []
    rows: list[ti_rows.TaskInstanceRow] = []
    page_size = min(PAGE_SIZE, max(16, 2 * slots))
    session.flush()
    for _page in range(MAX_PAGES):
        # A first page about the size of what can start (most passes need no more); the next
        # ones full size, so blocked instances never hide runnable ones further down.
        page = _read_page(session, capacity, seen, page_size, for_update)
        rows.extend(page)
        if not page:
            break
        if capacity is None:
            capacity = _capacity(session, slots)
        _read_runs(session, runs, page)
        versions = _versions(session, cache, runs, page)
        candidates = [_candidate(ti, runs, versions) for ti in page]
        if capacity.task_active is None and queue_policy.needs_task_active(candidates):
            queued = Counter((ti.dag_id, ti.task_id) for ti, *_ in chosen)
            capacity = dataclasses.replace(capacity, task_active=_active_per_task(session) + queued)
        choice = queue_policy.choose(candidates, capacity)
        by_id = {ti.id: ti for ti in page}
        for ti_id in choice.removed:
            transitions.remove(by_id[ti_id])
        for pool, (dag_id, task_id) in choice.missing_pools.items():
            if pool not in _warned_pools:
                log.warning(
                    "Task %s.%s uses pool %r, which does not exist; "
                    "it waits until the pool is created",
                    dag_id,
                    task_id,
                    pool,
                )
                _warned_pools.add(pool)
        for candidate in choice.to_queue:
            ti = by_id[candidate.id]
            version = versions[ti.dag_version_id]
            assert version is not None  # a runnable candidate's version was read
            task = version.dag.task_dict[ti.task_id]
            chosen.append((ti, task, runs[candidate.run_key], version))
        seen.update(choice.seen)
        capacity = choice.capacity
        if capacity.slots <= 0 or len(page) < page_size:
            break
        page_size = PAGE_SIZE
    workloads = _queue_all(session, chosen, now, job_id, log_folder, outcome_folder)
    ti_rows.write_changes(session, rows)
    return workloads


def _read_page(
    session: Session,
    capacity: queue_policy.Capacity | None,
    seen: set[int],
    page_size: int,
    for_update: bool,
) -> list[ti_rows.TaskInstanceRow]:
    """The next scheduled instances by priority, leaving out what earlier pages held back."""
    table = TaskInstance.__table__
    query = _CANDIDATES
    if capacity is not None and capacity.full_pools:
        query = query.where(table.c.pool.not_in(sorted(capacity.full_pools)))
    if capacity is not None and capacity.full_runs:
        query = query.where(
            tuple_(table.c.dag_id, table.c.run_id).not_in(sorted(capacity.full_runs))
        )
    if seen:
        query = query.where(table.c.id.not_in(sorted(seen)))
    if for_update:
        query = query.with_for_update(skip_locked=True)
    return ti_rows.rows_of(ti_rows.QUEUE, session.execute(query, {"page_size": page_size}))


def _capacity(session: Session, slots: int) -> queue_policy.Capacity:
    pool_used, run_active = _usage(session)
    return queue_policy.Capacity(
        slots=slots, pools=_pool_sizes(session), pool_used=pool_used, run_active=run_active
    )


def _read_runs(
    session: Session, runs: dict[tuple[str, str], DagRun], page: list[ti_rows.TaskInstanceRow]
) -> None:
    """Add the runs of ``page`` not read yet to ``runs``, in one query."""
    missing = {(ti.dag_id, ti.run_id) for ti in page} - set(runs)
    if not missing:
        return
    params = {
        "run_ids": sorted({key[1] for key in missing}),
        "dag_ids": sorted({key[0] for key in missing}),
    }
    for run in session.scalars(_RUNS, params):
        runs[(run.dag_id, run.run_id)] = run


def _versions(
    session: Session,
    cache: DagVersionCache,
    runs: dict[tuple[str, str], DagRun],
    page: list[ti_rows.TaskInstanceRow],
) -> dict[int | None, CachedVersion | None]:
    """The DAG version of each instance of a running run (None: it cannot be read)."""
    versions: dict[int | None, CachedVersion | None] = {None: None}
    for ti in page:
        if ti.dag_version_id is None or ti.dag_version_id in versions:
            continue
        run = runs.get((ti.dag_id, ti.run_id))
        if run is None or run.state != DagRunState.RUNNING.value:
            continue
        try:
            versions[ti.dag_version_id] = cache.get(session, ti.dag_version_id)
        except Exception:  # an unreadable version must not stop every other DAG
            log.exception(
                "Cannot load DAG version %s of task %s.%s",
                ti.dag_version_id,
                ti.dag_id,
                ti.task_id,
            )
            versions[ti.dag_version_id] = None
    return versions


def _candidate(
    ti: ti_rows.TaskInstanceRow,
    runs: dict[tuple[str, str], DagRun],
    versions: dict[int | None, CachedVersion | None],
) -> queue_policy.Candidate:
    run_key = (ti.dag_id, ti.run_id)
    run = runs.get(run_key)
    version = versions.get(ti.dag_version_id)
    base = queue_policy.Candidate(
        ti.id, run_key, (ti.dag_id, ti.task_id), ti.pool, ti.pool_slots, runnable=False
    )
    if run is None or run.state != DagRunState.RUNNING.value or version is None:
        return base
    task = version.dag.task_dict.get(ti.task_id)
    if task is None:
        return dataclasses.replace(base, runnable=True, task_exists=False)
    return dataclasses.replace(
        base,
        runnable=True,
        max_active_tasks=version.dag.max_active_tasks,
        max_active_tis_per_dag=getattr(task, "max_active_tis_per_dag", None),
    )


def _queue_all(
    session: Session,
    chosen: list[tuple[ti_rows.TaskInstanceRow, Any, DagRun, CachedVersion]],
    now: datetime,
    job_id: int | None,
    log_folder: Path,
    outcome_folder: Path | None,
) -> list[TaskWorkload]:
    """Mark the chosen instances queued (a new try starts without the XComs of the one
    before) and describe each try."""
    infos = run_infos(session, {id(run): run for _ti, _task, run, _v in chosen}.values())
    clear_xcoms: list[tuple[str, str, str, int]] = []
    workloads = [
        _queue(ti, task, run, version, now, job_id, log_folder, outcome_folder, infos, clear_xcoms)
        for ti, task, run, version in chosen
    ]
    for chunk in key_match.chunks(clear_xcoms):
        # The table's delete, not the entity's: no ORM session bookkeeping.
        session.execute(_XCOM.delete().where(key_match.keys_in(_XCOM_KEY, chunk)))
    return workloads


def _queue(
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
    continuing_sensor = not transitions.queue(ti, retries=task.retries, now=now, job_id=job_id)
    if not continuing_sensor:
        clear_xcoms.append((ti.dag_id, ti.run_id, ti.task_id, ti.map_index))
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
        run=run_infos[run.id],
        log_path=str(
            try_log_path(log_folder, ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)
        ),
        sensor_start_date=ti.start_date if continuing_sensor else None,
        poke_number=0,
        execution_timeout=timeout,
        pool_slots=ti.pool_slots,
        queue=ti.queue,
        dag_version_id=version.version_id,
        bundle_hash=version.bundle_hash,
        outcome_path=str(outcomes.outcome_path(outcome_folder, ti.id, ti.try_number))
        if outcome_folder
        else None,
    )
