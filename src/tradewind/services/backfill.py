"""Backfills: runs for every data interval of a past range, executed by the scheduler.

A backfill is stored (``backfill`` + one ``backfill_dag_run`` per logical date) so it can be
listed, paused, resumed and cancelled, and so closing the terminal that started it does not
stop it. Its runs are created up front as queued runs of type ``backfill``; the scheduler
starts them in the backfill's order, at most ``max_active_runs`` of them at once. An interval
that already has a run never gets a second one: depending on ``reprocess_behavior`` the
existing run is left alone or cleared to run again (and then belongs to the backfill, as in
Airflow 3). Only intervals that have ended are backfilled; the scheduler makes the others.

Decision: Airflow refuses a second active backfill of one DAG. Tradewind accepts it: the
intervals the first one still has in flight are skipped by the second, so no interval gets
two runs, and a user can backfill two disjoint ranges at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradewind.db.models import (
    Backfill,
    BackfillDagRun,
    BackfillState,
    DagRun,
    ReprocessBehavior,
)
from tradewind.exceptions import InvalidArgument, ParamValidationError, TradewindError
from tradewind.scheduler import backfill_progress, run_transitions
from tradewind.sdk import timezone
from tradewind.sdk.dag import DAG
from tradewind.sdk.states import DagRunState, DagRunType
from tradewind.services import clearing, dag_metadata, input_limits, paging
from tradewind.services import dags as dag_service

FINISHED_RUN_STATES = (DagRunState.SUCCESS.value, DagRunState.FAILED.value)

#: What ``list_page`` may order by (Airflow allows ``id``; the others help the UI).
ORDER_COLUMNS: Mapping[str, Any] = {
    "id": Backfill.id,
    "dag_id": Backfill.dag_id,
    "from_date": Backfill.from_date,
    "to_date": Backfill.to_date,
    "created_at": Backfill.created_at,
    "completed_at": Backfill.completed_at,
}


class BackfillNotFound(TradewindError):
    """No such backfill."""


class BackfillFinished(TradewindError):
    """The backfill is completed or cancelled: it cannot be paused, resumed or cancelled."""


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    """What a backfill does for one logical date: ``create``, ``rerun`` or ``skip``."""

    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    action: str
    reason: str | None = None
    existing_run_id: str | None = None


@dataclasses.dataclass(frozen=True)
class BackfillInfo:
    """A backfill and the progress of its runs (``total`` runs, ``done`` of them finished)."""

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
    dag_run_conf: dict[str, Any] = dataclasses.field(default_factory=dict)
    updated_at: datetime | None = None
    dag_display_name: str | None = None

    @property
    def finished(self) -> bool:
        return self.completed_at is not None

    @property
    def running(self) -> int:
        """Runs not finished yet (queued or running)."""
        return self.total - self.done


def _validate_range(dag: DAG, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    if not dag.timetable.can_be_scheduled or not dag.timetable.periodic:
        raise InvalidArgument(
            f"DAG {dag.dag_id!r} has no periodic schedule ({dag.timetable.summary}): "
            "nothing to backfill"
        )
    if end < start:
        raise InvalidArgument(
            f"the end date {end.isoformat()} is before the start date {start.isoformat()}"
        )
    if dag.start_date is not None and end < dag.start_date:
        raise InvalidArgument(
            f"the range {start.date()} .. {end.date()} ends before the DAG's start_date "
            f"{dag.start_date.isoformat()}"
        )
    if dag.end_date is not None and start > dag.end_date:
        raise InvalidArgument(
            f"the range {start.date()} .. {end.date()} starts after the DAG's end_date "
            f"{dag.end_date.isoformat()}"
        )
    if dag.start_date is not None and start < dag.start_date:
        start = dag.start_date
    if dag.end_date is not None and end > dag.end_date:
        end = dag.end_date
    return start, end


def _validate_options(
    dag: DAG, conf: dict[str, Any], max_active_runs: int | None, run_backwards: bool
) -> None:
    input_limits.check_conf_size("dag_run_conf", conf)
    try:
        dag.params.resolve(conf)
    except ParamValidationError as exc:
        raise ParamValidationError(f"invalid conf for DAG {dag.dag_id!r}: {exc}") from None
    if max_active_runs is not None and max_active_runs < 1:
        raise InvalidArgument(f"--max-active-runs must be at least 1, got {max_active_runs}")
    if run_backwards:
        past = [task.task_id for task in dag.tasks if task.depends_on_past]
        if past:
            raise InvalidArgument(
                f"cannot run backwards: tasks {', '.join(past)} have depends_on_past=True"
            )


def plan(
    session: Session,
    dag: DAG,
    start: datetime,
    end: datetime,
    reprocess: ReprocessBehavior,
    *,
    run_backwards: bool = False,
    now: datetime | None = None,
) -> list[PlannedRun]:
    """Each interval in ``[start, end]`` that has ended by ``now``, and what the backfill would
    do with it (changes nothing)."""
    now = now or timezone.utcnow()
    start, end = _validate_range(dag, timezone.coerce_utc(start), timezone.coerce_utc(end))
    infos = list(dag.timetable.iter_intervals(start, end))
    if not infos:
        raise InvalidArgument(
            f"no data interval of DAG {dag.dag_id!r} has its logical date in "
            f"{start.isoformat()} .. {end.isoformat()}"
        )
    # As in Airflow: an interval that has not ended yet is the scheduler's to run, not a backfill's.
    infos = [info for info in infos if info.data_interval.end <= now]
    if not infos:
        raise InvalidArgument(
            f"nothing to backfill: every data interval of DAG {dag.dag_id!r} in "
            f"{start.isoformat()} .. {end.isoformat()} ends in the future"
        )
    existing = {
        run.logical_date: run
        for run in session.scalars(
            select(DagRun).where(
                DagRun.dag_id == dag.dag_id,
                DagRun.logical_date >= infos[0].logical_date,
                DagRun.logical_date <= infos[-1].logical_date,
            )
        )
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
        elif reprocess is ReprocessBehavior.COMPLETED or (
            reprocess is ReprocessBehavior.FAILED and run.state == DagRunState.FAILED.value
        ):
            action, reason = "rerun", f"run {run.run_id} was {run.state}"
        else:
            action, reason = "skip", f"run {run.run_id} already exists ({run.state})"
        planned.append(
            PlannedRun(info.logical_date, interval.start, interval.end, action, reason, run.run_id)
        )
    if run_backwards:
        planned.reverse()
    return planned


def preview(
    session: Session,
    dag_id: str,
    *,
    start: datetime,
    end: datetime,
    reprocess: ReprocessBehavior = ReprocessBehavior.NONE,
    max_active_runs: int | None = None,
    run_backwards: bool = False,
    conf: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> list[PlannedRun]:
    """What ``create`` with the same arguments would do, checked the same way; changes nothing."""
    _, _, dag = dag_service.latest_dag(session, dag_id)
    _validate_options(dag, dict(conf or {}), max_active_runs, run_backwards)
    return plan(session, dag, start, end, reprocess, run_backwards=run_backwards, now=now)


def create(
    session: Session,
    dag_id: str,
    *,
    start: datetime,
    end: datetime,
    reprocess: ReprocessBehavior = ReprocessBehavior.NONE,
    max_active_runs: int | None = None,
    run_backwards: bool = False,
    conf: dict[str, Any] | None = None,
    created_by: str | None = None,
    now: datetime | None = None,
) -> tuple[BackfillInfo, list[PlannedRun]]:
    """Store a backfill and queue its runs; nothing is created when the input is invalid."""
    now = now or timezone.utcnow()
    row, version, dag = dag_service.latest_dag(session, dag_id)
    conf = dict(conf or {})
    _validate_options(dag, conf, max_active_runs, run_backwards)
    planned = plan(session, dag, start, end, reprocess, run_backwards=run_backwards, now=now)
    backfill = Backfill(
        dag_id=dag_id,
        from_date=timezone.coerce_utc(start),
        to_date=timezone.coerce_utc(end),
        reprocess_behavior=reprocess.value,
        max_active_runs=max_active_runs or dag.max_active_runs,
        run_backwards=run_backwards,
        dag_run_conf=conf,
        is_paused=False,
        state=BackfillState.RUNNING,
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(backfill)
    session.flush()
    existing = {
        run.run_id: run
        for run in session.scalars(
            select(DagRun).where(
                DagRun.dag_id == dag_id,
                DagRun.run_id.in_([p.existing_run_id for p in planned if p.existing_run_id]),
            )
        )
    }
    done: list[PlannedRun] = []
    for ordinal, item in enumerate(planned):
        dag_run_id: int | None = None
        if item.action == "create":
            dag_run_id = _new_run(session, item, dag_id, version.id, conf, backfill.id, now)
            if dag_run_id is None:  # the scheduler made this interval's run meanwhile
                item = dataclasses.replace(
                    item, action="skip", reason="a run was created for it meanwhile"
                )
        elif item.action == "rerun":
            run = existing[item.existing_run_id]  # type: ignore[index]
            _rerun(session, run, backfill.id, conf, now)
            dag_run_id = run.id
        done.append(item)
        session.add(
            BackfillDagRun(
                backfill_id=backfill.id,
                dag_run_id=dag_run_id,
                logical_date=item.logical_date,
                exception_reason=item.reason if item.action == "skip" else None,
                sort_ordinal=ordinal,
            )
        )
    session.flush()
    backfill_progress.refresh_completion(session, backfill, now)
    return info(session, backfill), done


def _new_run(
    session: Session,
    item: PlannedRun,
    dag_id: str,
    version_id: int,
    conf: dict[str, Any],
    backfill_id: int,
    now: datetime,
) -> int | None:
    """A queued backfill run for ``item``; None when another writer took the interval first."""
    run = DagRun(
        dag_id=dag_id,
        run_id=DagRunType.BACKFILL.generate_run_id(item.logical_date.isoformat()),
        logical_date=item.logical_date,
        data_interval_start=item.data_interval_start,
        data_interval_end=item.data_interval_end,
        run_after=item.data_interval_end,
        run_type=DagRunType.BACKFILL.value,
        state=DagRunState.QUEUED.value,
        conf=conf,
        dag_version_id=version_id,
        queued_at=now,
        backfill_id=backfill_id,
        triggered_by="backfill",
    )
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:  # (dag_id, logical_date) is unique: never a second run for an interval
        return None
    return run.id


def _rerun(
    session: Session, run: DagRun, backfill_id: int, conf: dict[str, Any], now: datetime
) -> None:
    """Clear a finished run so it runs again, as a run of this backfill."""
    clearing.clear_run(session, run.dag_id, run.run_id, only_failed=False, dry_run=False, now=now)
    # A run with no task instance to clear (a cancelled backfill's, say) is queued all the same.
    run_transitions.requeue_run(run, now)
    run.backfill_id = backfill_id
    run.run_type = DagRunType.BACKFILL.value
    run.triggered_by = "backfill"
    if conf:
        run.conf = conf


def _get(session: Session, backfill_id: int) -> Backfill:
    row = session.get(Backfill, backfill_id)
    if row is None:
        raise BackfillNotFound(f"backfill {backfill_id} does not exist")
    return row


def _counts(session: Session, backfill_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Runs of each backfill by state."""
    found: dict[int, dict[str, int]] = {backfill_id: {} for backfill_id in backfill_ids}
    if not found:
        return found
    rows = session.execute(
        select(BackfillDagRun.backfill_id, DagRun.state, func.count())
        .join(BackfillDagRun, BackfillDagRun.dag_run_id == DagRun.id)
        .where(BackfillDagRun.backfill_id.in_(list(found)))
        .group_by(BackfillDagRun.backfill_id, DagRun.state)
    ).all()
    for backfill_id, state, count in rows:
        found[backfill_id][state] = count
    return found


def _infos(session: Session, rows: Sequence[Backfill]) -> list[BackfillInfo]:
    by_state = _counts(session, [row.id for row in rows])
    names = dag_metadata.display_names(session, {row.dag_id for row in rows}) if rows else {}
    infos = []
    for row in rows:
        states = by_state[row.id]
        succeeded = states.get(DagRunState.SUCCESS.value, 0)
        failed = states.get(DagRunState.FAILED.value, 0)
        infos.append(
            BackfillInfo(
                id=row.id,
                dag_id=row.dag_id,
                from_date=row.from_date,
                to_date=row.to_date,
                reprocess_behavior=row.reprocess_behavior,
                max_active_runs=row.max_active_runs,
                run_backwards=row.run_backwards,
                is_paused=row.is_paused,
                state=row.state,
                created_by=row.created_by,
                created_at=row.created_at,
                completed_at=row.completed_at,
                total=sum(states.values()),
                done=succeeded + failed,
                succeeded=succeeded,
                failed=failed,
                dag_run_conf=dict(row.dag_run_conf or {}),
                updated_at=row.updated_at,
                dag_display_name=names.get(row.dag_id, row.dag_id),
            )
        )
    return infos


def info(session: Session, row: Backfill) -> BackfillInfo:
    session.flush()
    return _infos(session, [row])[0]


def get(session: Session, backfill_id: int) -> BackfillInfo:
    return info(session, _get(session, backfill_id))


def list_backfills(
    session: Session, dag_id: str | None = None, *, active_only: bool = False
) -> list[BackfillInfo]:
    """Backfills with their progress, newest first (``active_only``: not completed yet)."""
    query = select(Backfill).order_by(Backfill.id.desc())
    if dag_id:
        query = query.where(Backfill.dag_id == dag_id)
    if active_only:
        query = query.where(Backfill.completed_at.is_(None))
    return _infos(session, list(session.scalars(query)))


def list_page(
    session: Session,
    dag_id: str | None,
    *,
    order_by: str | Sequence[str] | None,
    page: paging.Page,
) -> tuple[list[BackfillInfo], int]:
    """One page of backfills (of one DAG, or all), by id unless ``order_by`` says otherwise,
    and the total."""
    query = select(Backfill)
    if dag_id is not None:
        query = query.where(Backfill.dag_id == dag_id)
    order = paging.order_clauses(order_by, ORDER_COLUMNS, default=["id"], tie_breaker=Backfill.id)
    rows, total = paging.paginate(session, query, order, page)
    return _infos(session, rows), total


def _open(session: Session, backfill_id: int) -> Backfill:
    row = _get(session, backfill_id)
    if row.completed_at is not None:
        raise BackfillFinished(f"backfill {backfill_id} is already {row.state}")
    return row


def set_paused(
    session: Session, backfill_id: int, paused: bool, *, now: datetime | None = None
) -> BackfillInfo:
    """Pause (start no more of its runs; those going on finish) or resume a backfill."""
    row = _open(session, backfill_id)
    run_transitions.pause(row, paused, now or timezone.utcnow())
    return info(session, row)


def cancel(session: Session, backfill_id: int, *, now: datetime | None = None) -> BackfillInfo:
    """Stop the backfill: its runs not started yet are failed; running ones go on to their end."""
    now = now or timezone.utcnow()
    row = _open(session, backfill_id)
    run_transitions.cancel(session, row, now)
    return info(session, row)
