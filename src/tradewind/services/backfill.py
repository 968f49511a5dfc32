"""Backfills: runs for every data interval of a past range, executed by the scheduler.

A backfill is stored (``backfill`` + one ``backfill_dag_run`` per logical date) so it can be
listed, paused, resumed and cancelled, and so closing the terminal that started it does not
stop it. Its runs are created up front as queued runs of type ``backfill``; the scheduler
starts them in the backfill's order, at most ``max_active_runs`` of them at once. An interval
that already has a run never gets a second one: depending on ``reprocess_behavior`` the
existing run is left alone or cleared to run again.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tradewind.db.models import Backfill, BackfillDagRun, DagRun, ReprocessBehavior
from tradewind.exceptions import InvalidArgument, ParamValidationError, TradewindError
from tradewind.scheduler import backfill_progress
from tradewind.sdk import timezone
from tradewind.sdk.dag import DAG
from tradewind.sdk.states import DagRunState, DagRunType
from tradewind.services import clearing
from tradewind.services import dags as dag_service

FINISHED_RUN_STATES = (DagRunState.SUCCESS.value, DagRunState.FAILED.value)


class BackfillNotFound(TradewindError):
    """No such backfill."""


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    """What a backfill does for one logical date."""

    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    action: str  # "create", "rerun", "skip"
    reason: str | None = None
    existing_run_id: str | None = None


@dataclasses.dataclass(frozen=True)
class BackfillInfo:
    id: int
    dag_id: str
    from_date: datetime
    to_date: datetime
    reprocess_behavior: str
    max_active_runs: int
    run_backwards: bool
    is_paused: bool
    state: str
    created_by: str | None
    created_at: datetime
    completed_at: datetime | None
    total: int
    done: int
    succeeded: int
    failed: int

    @property
    def finished(self) -> bool:
        return self.completed_at is not None


def _validate_range(dag: DAG, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    if not dag.timetable.can_be_scheduled or not dag.timetable.periodic:
        raise InvalidArgument(f"DAG {dag.dag_id!r} has no periodic schedule ({dag.timetable.summary}): nothing to backfill")
    if end < start:
        raise InvalidArgument(f"the end date {end.isoformat()} is before the start date {start.isoformat()}")
    if dag.start_date is not None and end < dag.start_date:
        raise InvalidArgument(
            f"the range {start.date()} .. {end.date()} ends before the DAG's start_date {dag.start_date.isoformat()}"
        )
    if dag.end_date is not None and start > dag.end_date:
        raise InvalidArgument(
            f"the range {start.date()} .. {end.date()} starts after the DAG's end_date {dag.end_date.isoformat()}"
        )
    if dag.start_date is not None and start < dag.start_date:
        start = dag.start_date
    if dag.end_date is not None and end > dag.end_date:
        end = dag.end_date
    return start, end


def plan(
    session: Session, dag: DAG, start: datetime, end: datetime, reprocess: ReprocessBehavior, *, run_backwards: bool = False
) -> list[PlannedRun]:
    """Each interval in ``[start, end]`` and what the backfill would do with it (changes nothing)."""
    start, end = _validate_range(dag, timezone.coerce_utc(start), timezone.coerce_utc(end))  # type: ignore[arg-type]
    infos = list(dag.timetable.iter_intervals(start, end))
    if not infos:
        raise InvalidArgument(f"no data interval of DAG {dag.dag_id!r} has its logical date in {start.isoformat()} .. {end.isoformat()}")
    existing = {
        run.logical_date: run
        for run in session.scalars(select(DagRun).where(
            DagRun.dag_id == dag.dag_id, DagRun.logical_date >= infos[0].logical_date,
            DagRun.logical_date <= infos[-1].logical_date))
    }
    planned: list[PlannedRun] = []
    for info in infos:
        run = existing.get(info.logical_date)
        interval = info.data_interval
        if run is None:
            planned.append(PlannedRun(info.logical_date, interval.start, interval.end, "create"))
            continue
        if run.state not in FINISHED_RUN_STATES:
            action, reason = "skip", f"run {run.run_id} is {run.state}"
        elif reprocess is ReprocessBehavior.COMPLETED or (reprocess is ReprocessBehavior.FAILED and run.state == DagRunState.FAILED.value):
            action, reason = "rerun", f"run {run.run_id} was {run.state}"
        else:
            action, reason = "skip", f"run {run.run_id} already exists ({run.state})"
        planned.append(PlannedRun(info.logical_date, interval.start, interval.end, action, reason, run.run_id))
    if run_backwards:
        planned.reverse()
    return planned


def create(
    session: Session, dag_id: str, *, start: datetime, end: datetime,
    reprocess: ReprocessBehavior = ReprocessBehavior.NONE, max_active_runs: int | None = None,
    run_backwards: bool = False, conf: dict[str, Any] | None = None, created_by: str | None = None,
    now: datetime | None = None,
) -> tuple[BackfillInfo, list[PlannedRun]]:
    """Store a backfill and queue its runs; nothing is created when the input is invalid."""
    now = now or timezone.utcnow()
    row, version, dag = dag_service.latest_dag(session, dag_id)
    conf = dict(conf or {})
    try:
        dag.params.resolve(conf)
    except ParamValidationError as exc:
        raise ParamValidationError(f"invalid conf for DAG {dag_id!r}: {exc}") from None
    if max_active_runs is not None and max_active_runs < 1:
        raise InvalidArgument(f"--max-active-runs must be at least 1, got {max_active_runs}")
    if run_backwards:
        past = [task.task_id for task in dag.tasks if task.depends_on_past]
        if past:
            raise InvalidArgument(f"cannot run backwards: tasks {', '.join(past)} have depends_on_past=True")
    planned = plan(session, dag, start, end, reprocess, run_backwards=run_backwards)
    backfill = Backfill(
        dag_id=dag_id, from_date=timezone.coerce_utc(start), to_date=timezone.coerce_utc(end),
        reprocess_behavior=reprocess.value, max_active_runs=max_active_runs or dag.max_active_runs,
        run_backwards=run_backwards, dag_run_conf=conf, is_paused=False, state="running",
        created_by=created_by, created_at=now,
    )
    session.add(backfill)
    session.flush()
    existing = {
        run.run_id: run for run in session.scalars(select(DagRun).where(
            DagRun.dag_id == dag_id, DagRun.run_id.in_([p.existing_run_id for p in planned if p.existing_run_id])))
    }
    for ordinal, item in enumerate(planned):
        dag_run_id: int | None = None
        if item.action == "create":
            run = DagRun(
                dag_id=dag_id, run_id=DagRunType.BACKFILL.generate_run_id(item.logical_date.isoformat()),
                logical_date=item.logical_date, data_interval_start=item.data_interval_start,
                data_interval_end=item.data_interval_end, run_after=item.data_interval_end,
                run_type=DagRunType.BACKFILL.value, state=DagRunState.QUEUED.value, conf=conf,
                dag_version_id=version.id, queued_at=now, backfill_id=backfill.id, triggered_by="backfill",
            )
            session.add(run)
            session.flush()
            dag_run_id = run.id
        elif item.action == "rerun":
            run = existing[item.existing_run_id]  # type: ignore[index]
            clearing.clear_run(session, dag_id, run.run_id, only_failed=False, dry_run=False, now=now)
            run.backfill_id = backfill.id
            run.conf = conf or run.conf
            dag_run_id = run.id
        session.add(BackfillDagRun(
            backfill_id=backfill.id, dag_run_id=dag_run_id, logical_date=item.logical_date,
            exception_reason=item.reason if item.action == "skip" else None, sort_ordinal=ordinal,
        ))
    session.flush()
    backfill_progress.refresh_completion(session, backfill, now)
    return info(session, backfill), planned


def _get(session: Session, backfill_id: int) -> Backfill:
    row = session.get(Backfill, backfill_id)
    if row is None:
        raise BackfillNotFound(f"backfill {backfill_id} does not exist")
    return row


def _counts(session: Session, backfill_id: int) -> tuple[int, int, int, int]:
    rows = session.execute(
        select(DagRun.state, func.count()).join(BackfillDagRun, BackfillDagRun.dag_run_id == DagRun.id)
        .where(BackfillDagRun.backfill_id == backfill_id).group_by(DagRun.state)
    ).all()
    by_state = {state: count for state, count in rows}
    total = sum(by_state.values())
    succeeded = by_state.get(DagRunState.SUCCESS.value, 0)
    failed = by_state.get(DagRunState.FAILED.value, 0)
    return total, succeeded + failed, succeeded, failed


def info(session: Session, row: Backfill) -> BackfillInfo:
    total, done, succeeded, failed = _counts(session, row.id)
    return BackfillInfo(
        id=row.id, dag_id=row.dag_id, from_date=row.from_date, to_date=row.to_date,
        reprocess_behavior=row.reprocess_behavior, max_active_runs=row.max_active_runs,
        run_backwards=row.run_backwards, is_paused=row.is_paused, state=row.state, created_by=row.created_by,
        created_at=row.created_at, completed_at=row.completed_at, total=total, done=done,
        succeeded=succeeded, failed=failed,
    )


def get(session: Session, backfill_id: int) -> BackfillInfo:
    return info(session, _get(session, backfill_id))


def list_backfills(session: Session, dag_id: str | None = None, *, active_only: bool = False) -> list[BackfillInfo]:
    query = select(Backfill).order_by(Backfill.id.desc())
    if dag_id:
        query = query.where(Backfill.dag_id == dag_id)
    if active_only:
        query = query.where(Backfill.completed_at.is_(None))
    return [info(session, row) for row in session.scalars(query)]


def set_paused(session: Session, backfill_id: int, paused: bool) -> BackfillInfo:
    row = _get(session, backfill_id)
    if row.completed_at is not None:
        raise InvalidArgument(f"backfill {backfill_id} is already {row.state}")
    row.is_paused = paused
    row.state = "paused" if paused else "running"
    return info(session, row)


def cancel(session: Session, backfill_id: int, *, now: datetime | None = None) -> BackfillInfo:
    """Stop creating runs: runs not started yet are failed; running tasks are left to finish."""
    now = now or timezone.utcnow()
    row = _get(session, backfill_id)
    if row.completed_at is not None:
        raise InvalidArgument(f"backfill {backfill_id} is already {row.state}")
    session.execute(
        update(DagRun).where(DagRun.backfill_id == backfill_id, DagRun.state == DagRunState.QUEUED.value)
        .values(state=DagRunState.FAILED.value, end_date=now, note="backfill cancelled")
        .execution_options(synchronize_session=False)
    )
    row.state = "cancelled"
    row.is_paused = False
    row.completed_at = now
    return info(session, row)
