"""DAG runs: create the scheduled ones that are due, start queued ones, finish decided ones."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.db import key_match
from tradewind.db.models import Backfill, BackfillDagRun, Dag, DagRun, TaskInstance
from tradewind.scheduler import next_run, run_decisions, run_transitions
from tradewind.scheduler.dag_cache import CachedVersion, DagVersionCache
from tradewind.sdk.states import DagRunState, DagRunType
from tradewind.timetables.base import DataInterval

log = logging.getLogger("tradewind.scheduler")

ACTIVE_RUN_STATES = (DagRunState.QUEUED.value, DagRunState.RUNNING.value)


def active_run_counts(
    session: Session, dag_ids: list[str] | None = None, states: tuple[str, ...] = ACTIVE_RUN_STATES
) -> Counter[str]:
    """Queued and running runs per DAG, backfill runs left out (they have their own limit)."""
    query = (
        select(DagRun.dag_id, func.count())
        .where(DagRun.state.in_(states), DagRun.backfill_id.is_(None))
        .group_by(DagRun.dag_id)
    )
    if dag_ids is not None:
        query = query.where(DagRun.dag_id.in_(dag_ids))
    return Counter({dag_id: count for dag_id, count in session.execute(query)})


def create_due_runs(
    session: Session, cache: DagVersionCache, now: datetime, *, for_update: bool = False
) -> list[DagRun]:
    """Create the scheduled runs whose data interval has ended, oldest first, per DAG limits.

    With ``for_update`` (PostgreSQL) the DAG rows are locked, skipping those another scheduler
    holds, so two schedulers never create the same run.
    """
    query = (
        select(Dag)
        .where(
            Dag.is_paused.is_(False), Dag.is_active.is_(True), Dag.latest_version_id.is_not(None)
        )
        .where(Dag.next_dagrun_create_after <= now)
        .order_by(Dag.next_dagrun_create_after)
    )
    if for_update:
        query = query.with_for_update(skip_locked=True)
    due = list(session.scalars(query))
    if not due:
        return []
    active = active_run_counts(session, [row.dag_id for row in due])
    existing = _existing_logical_dates(session, [row.dag_id for row in due])
    created: list[DagRun] = []
    for row in due:
        try:
            version = cache.get(session, row.latest_version_id)  # type: ignore[arg-type]
        except Exception:  # one unreadable DAG must not stop the others
            log.exception("Cannot load the latest version of DAG %s; no run created", row.dag_id)
            continue
        dag = version.dag
        while (
            row.next_dagrun_create_after is not None
            and row.next_dagrun_create_after <= now
            and active[row.dag_id] < dag.max_active_runs
        ):
            interval = DataInterval(
                row.next_dagrun_data_interval_start,  # type: ignore[arg-type]
                row.next_dagrun_data_interval_end,  # type: ignore[arg-type]
            )
            logical_date = row.next_dagrun
            if (row.dag_id, logical_date) not in existing:
                existing.add((row.dag_id, logical_date))
                run = DagRun(
                    dag_id=row.dag_id,
                    run_id=DagRunType.SCHEDULED.generate_run_id(logical_date.isoformat()),  # type: ignore[union-attr]
                    logical_date=logical_date,
                    data_interval_start=interval.start,
                    data_interval_end=interval.end,
                    run_after=row.next_dagrun_create_after,
                    run_type=DagRunType.SCHEDULED.value,
                    state=DagRunState.QUEUED.value,
                    conf={},
                    dag_version_id=version.version_id,
                    queued_at=now,
                    triggered_by="timetable",
                )
                session.add(run)
                created.append(run)
                active[row.dag_id] += 1
                log.info("Created run %s of DAG %s", run.run_id, row.dag_id)
            next_run.advance_next_dagrun(row, dag, interval, now)
    session.flush()
    return created


def _existing_logical_dates(
    session: Session, dag_ids: list[str]
) -> set[tuple[str, datetime | None]]:
    """The logical dates of the runs these DAGs already have from their next run on (a run
    made by hand or by a backfill is not made again), in one query."""
    rows = session.execute(
        select(DagRun.dag_id, DagRun.logical_date)
        .join(Dag, Dag.dag_id == DagRun.dag_id)
        .where(DagRun.dag_id.in_(dag_ids), DagRun.logical_date >= Dag.next_dagrun)
    )
    return {(dag_id, logical_date) for dag_id, logical_date in rows}


def task_instances_for(run: DagRun, version: CachedVersion) -> list[TaskInstance]:
    """One task instance per task (mapped tasks get a placeholder until they expand)."""
    rows = []
    for task in version.dag.tasks:
        rows.append(
            TaskInstance(
                dag_id=run.dag_id,
                run_id=run.run_id,
                task_id=task.task_id,
                map_index=-1,
                state=None,
                try_number=0,
                max_tries=task.retries,
                pool=task.pool,
                pool_slots=task.pool_slots,
                priority_weight=version.priority_weights.get(task.task_id, task.priority_weight),
                queue=task.queue,
                operator=getattr(task, "operator_name", type(task).__name__),
                dag_version_id=version.version_id,
            )
        )
    return rows


def _running_counts(session: Session, dag_ids: list[str]) -> Counter[tuple[str, int | None]]:
    """Running runs per (DAG, backfill): backfill runs count against their backfill's limit only."""
    rows = session.execute(
        select(DagRun.dag_id, DagRun.backfill_id, func.count())
        .where(DagRun.state == DagRunState.RUNNING.value, DagRun.dag_id.in_(dag_ids))
        .group_by(DagRun.dag_id, DagRun.backfill_id)
    )
    return Counter({(dag_id, backfill_id): count for dag_id, backfill_id, count in rows})


def _backfill_order(
    session: Session, queued: list[DagRun]
) -> tuple[dict[int, int], dict[int, Backfill]]:
    """Sort position of each queued backfill run, and the backfills they belong to."""
    ids = [run.id for run in queued if run.backfill_id is not None]
    if not ids:
        return {}, {}
    # A run re-run by a later backfill is listed by both: its place is in the one it belongs to now.
    belongs = {run.id: run.backfill_id for run in queued}
    ordinals = {
        dag_run_id: ordinal
        for dag_run_id, backfill_id, ordinal in session.execute(
            select(
                BackfillDagRun.dag_run_id, BackfillDagRun.backfill_id, BackfillDagRun.sort_ordinal
            ).where(BackfillDagRun.dag_run_id.in_(ids))
        )
        if dag_run_id is not None and belongs.get(dag_run_id) == backfill_id
    }
    backfills = {
        row.id: row
        for row in session.scalars(
            select(Backfill).where(
                Backfill.id.in_({run.backfill_id for run in queued if run.backfill_id is not None})
            )
        )
    }
    return ordinals, backfills


def start_queued_runs(
    session: Session, cache: DagVersionCache, now: datetime, *, for_update: bool = False
) -> list[DagRun]:
    """Move queued runs to running, oldest first, within ``max_active_runs``.

    Runs of a backfill start in the backfill's order, against the backfill's own
    ``max_active_runs``, and not while the backfill is paused (Airflow 3's rules).
    """
    query = (
        select(DagRun)
        .where(DagRun.state == DagRunState.QUEUED.value)
        .order_by(DagRun.run_after, DagRun.logical_date, DagRun.id)
    )
    if for_update:
        query = query.with_for_update(skip_locked=True)
    queued = list(session.scalars(query))
    if not queued:
        return []
    ordinals, backfills = _backfill_order(session, queued)
    position = {run.id: index for index, run in enumerate(queued)}
    queued.sort(key=lambda run: (run.backfill_id or 0, ordinals.get(run.id, position[run.id])))
    running = _running_counts(session, sorted({run.dag_id for run in queued}))
    versions: dict[int, CachedVersion] = {}
    candidates: list[run_decisions.QueuedRun] = []
    for run in queued:
        if run.dag_version_id is None:
            continue
        try:
            versions[run.id] = cache.get(session, run.dag_version_id)
        except Exception:
            log.exception(
                "Cannot load DAG version %s of run %s of %s; it stays queued",
                run.dag_version_id,
                run.run_id,
                run.dag_id,
            )
            continue
        candidates.append(_queued_run(run, versions[run.id], backfills))
    chosen = set(run_decisions.runs_to_start(candidates, running))
    started = [run for run in queued if run.id in chosen]
    _start(session, started, versions, now)
    return started


def _queued_run(
    run: DagRun, version: CachedVersion, backfills: dict[int, Backfill]
) -> run_decisions.QueuedRun:
    """What deciding whether ``run`` starts needs: its limit, and whether its backfill holds it."""
    limit = version.dag.max_active_runs
    held = False
    backfill = backfills.get(run.backfill_id) if run.backfill_id is not None else None
    if backfill is not None:
        # A completed backfill's run is queued again only when cleared: it must start.
        held = bool(backfill.is_paused and backfill.completed_at is None)
        if backfill.max_active_runs:
            limit = int(backfill.max_active_runs)
    return run_decisions.QueuedRun(run.id, run.dag_id, run.backfill_id, limit, held=held)


def _start(
    session: Session, started: list[DagRun], versions: dict[int, CachedVersion], now: datetime
) -> None:
    """Mark ``started`` running; those without task instances yet get them."""
    if not started:
        return
    keys = [(run.dag_id, run.run_id) for run in started]
    with_tis = {
        (dag_id, run_id)
        for chunk in key_match.chunks(keys)
        for dag_id, run_id in session.execute(
            select(TaskInstance.dag_id, TaskInstance.run_id)
            .where(key_match.keys_in((TaskInstance.dag_id, TaskInstance.run_id), chunk))
            .distinct()
        )
    }
    for run in started:
        if (run.dag_id, run.run_id) not in with_tis:
            session.add_all(task_instances_for(run, versions[run.id]))
        run_transitions.start_run(run, now)
    session.flush()
