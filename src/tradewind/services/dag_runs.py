"""DAG runs: trigger one, list them, read a run's state and its task instances."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, delete, select, update
from sqlalchemy.orm import Session

from tradewind.db import key_match
from tradewind.db.models import (
    BackfillDagRun,
    DagRun,
    DagVersion,
    TaskInstance,
    TaskInstanceHistory,
    XCom,
)
from tradewind.exceptions import (
    AlreadyExists,
    DagNotFound,
    DagRunNotFound,
    InvalidStateTransition,
    ParamValidationError,
    TradewindError,
)
from tradewind.scheduler import run_transitions
from tradewind.sdk import ordering, timezone
from tradewind.sdk.states import DagRunState, DagRunType
from tradewind.services import dags as dag_service
from tradewind.services import input_limits, paging


class InvalidRunRequest(TradewindError):
    """The requested run cannot be created."""


#: Airflow's default ``allowed_run_id_pattern``: what a run id given by a user may contain.
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9_.~:+-]+")  # the whole id must match (fullmatch)
MAX_RUN_ID_LENGTH = 250


@dataclasses.dataclass(frozen=True)
class RunInfoRow:
    dag_id: str
    run_id: str
    state: str
    run_type: str
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    conf: dict[str, Any]
    dag_version_id: int | None

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "run_id": self.run_id,
            "state": self.state,
            "run_type": self.run_type,
            "logical_date": iso(self.logical_date),
            "data_interval_start": iso(self.data_interval_start),
            "data_interval_end": iso(self.data_interval_end),
            "start_date": iso(self.start_date),
            "end_date": iso(self.end_date),
        }


def _row(run: DagRun) -> RunInfoRow:
    return RunInfoRow(
        dag_id=run.dag_id,
        run_id=run.run_id,
        state=run.state,
        run_type=run.run_type,
        logical_date=run.logical_date,
        data_interval_start=run.data_interval_start,
        data_interval_end=run.data_interval_end,
        start_date=run.start_date,
        end_date=run.end_date,
        conf=dict(run.conf or {}),
        dag_version_id=run.dag_version_id,
    )


def trigger(
    session: Session,
    dag_id: str,
    *,
    conf: dict[str, Any] | None = None,
    run_id: str | None = None,
    logical_date: datetime | None = None,
    now: datetime,
    triggered_by: str = "cli",
    without_logical_date: bool = False,
    run_after: datetime | None = None,
    data_interval: tuple[datetime, datetime] | None = None,
    note: str | None = None,
) -> RunInfoRow:
    """Create a queued manual run, its conf validated against the DAG's params.

    Without ``logical_date`` the run's logical date is ``run_after`` (default ``now``), unless
    ``without_logical_date``: then it has none, as Airflow 3's REST API triggers do. The data
    interval is ``data_interval`` or what the timetable infers for the logical date.
    """
    conf = dict(conf or {})
    input_limits.check_conf_size("conf", conf)
    input_limits.check_note(note)
    row, version, dag = dag_service.latest_dag(session, dag_id)
    try:
        dag.params.resolve(conf)
    except ParamValidationError as exc:
        raise ParamValidationError(f"invalid conf for DAG {dag_id!r}: {exc}") from None
    if data_interval is not None and data_interval[0] > data_interval[1]:
        raise InvalidRunRequest("data_interval_start must not be after data_interval_end")
    logical: datetime | None
    if without_logical_date:
        if logical_date is not None:
            raise InvalidRunRequest("a run without a logical date cannot be given one")
        run_after = timezone.coerce_utc(run_after) or now
        logical = None
        start, end = data_interval if data_interval is not None else (None, None)
        run_id = run_id or DagRunType.MANUAL.generate_run_id(run_after.isoformat())
    else:
        run_after = timezone.coerce_utc(run_after) or timezone.coerce_utc(logical_date) or now
        logical = timezone.coerce_utc(logical_date) or run_after
        if data_interval is not None:
            start, end = data_interval
        else:
            interval = dag.timetable.infer_manual_data_interval(run_after=logical)
            start, end = interval.start, interval.end
        run_id = run_id or DagRunType.MANUAL.generate_run_id(logical.isoformat())
    if not RUN_ID_PATTERN.fullmatch(run_id) or len(run_id) > MAX_RUN_ID_LENGTH:
        raise InvalidRunRequest(
            f"run_id {run_id!r} is not allowed: use at most {MAX_RUN_ID_LENGTH} letters, "
            "digits and . _ ~ : + -"
        )
    if (
        session.scalar(select(DagRun.id).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        is not None
    ):
        raise AlreadyExists(f"DAG {dag_id!r} already has a run with run_id {run_id!r}")
    if (
        logical is not None
        and session.scalar(
            select(DagRun.id).where(DagRun.dag_id == dag_id, DagRun.logical_date == logical)
        )
        is not None
    ):
        raise AlreadyExists(
            f"DAG {dag_id!r} already has a run at logical date {logical.isoformat()}"
        )
    run = DagRun(
        dag_id=dag_id,
        run_id=run_id,
        logical_date=logical,
        data_interval_start=start,
        data_interval_end=end,
        run_after=run_after,
        run_type=DagRunType.MANUAL.value,
        state=DagRunState.QUEUED.value,
        conf=conf,
        dag_version_id=version.id,
        queued_at=now,
        triggered_by=triggered_by,
        note=note,
    )
    session.add(run)
    session.flush()
    return _row(run)


def list_runs(
    session: Session, dag_id: str, *, state: str | None = None, limit: int | None = None
) -> list[RunInfoRow]:
    dag_service.get_dag_row(session, dag_id)
    query = (
        select(DagRun)
        .where(DagRun.dag_id == dag_id)
        .order_by(DagRun.logical_date.desc(), DagRun.id.desc())
    )
    if state:
        query = query.where(DagRun.state == state)
    if limit:
        query = query.limit(limit)
    return [_row(run) for run in session.scalars(query)]


def get_run(session: Session, dag_id: str, run_id: str) -> DagRun:
    run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if run is None:
        raise DagRunNotFound(f"DAG {dag_id!r} has no run {run_id!r}")
    return run


def run_info(session: Session, dag_id: str, run_id: str) -> RunInfoRow:
    return _row(get_run(session, dag_id, run_id))


def task_instances(session: Session, dag_id: str, run_id: str) -> list[TaskInstance]:
    get_run(session, dag_id, run_id)
    return list(
        session.scalars(
            select(TaskInstance)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            .order_by(TaskInstance.id, TaskInstance.map_index)
        )
    )


def task_key(task_id: str, map_index: int) -> str:
    """The key of a task instance in JSON output: ``task_id`` or ``task_id[i]`` (as in
    ``dags test``)."""
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def task_states_json(tis: list[TaskInstance]) -> dict[str, dict[str, Any]]:
    return {
        task_key(ti.task_id, ti.map_index): {
            "state": ti.state,
            "try_number": ti.try_number,
            "duration": round(ti.duration, 6) if ti.duration is not None else None,
        }
        for ti in tis
    }


def version_of(session: Session, run: DagRun) -> DagVersion | None:
    return session.get(DagVersion, run.dag_version_id) if run.dag_version_id else None


def run_states_json(session: Session, dag_id: str, run_id: str) -> dict[str, Any]:
    """``{"dag_id", "run_id", "state", "tasks": {key: {"state", "try_number", "duration"}}}``: the
    object ``tradewind dags test -o json`` prints, for a run in the metastore. Keys are
    ``task_id`` or ``task_id[i]``, in dependency order
    then map index, as ``dags test`` lists them."""
    run = get_run(session, dag_id, run_id)
    tis = task_instances(session, dag_id, run_id)
    order = {task_id: index for index, task_id in enumerate(task_order(version_of(session, run)))}
    tis.sort(
        key=lambda ti: (
            order.get(ti.task_id, len(order)),
            "" if ti.task_id in order else ti.task_id,
            ti.map_index,
        )
    )
    return {"dag_id": dag_id, "run_id": run_id, "state": run.state, "tasks": task_states_json(tis)}


def task_order(version: DagVersion | None) -> list[str]:
    """The version's task ids in dependency order (``DAG.topological_sort``'s), from the edges
    of its serialized DAG (``tasks``, each with ``task_id`` and ``downstream_task_ids``); empty
    when there is no version or it cannot be read, and the tasks then go by id.

    Read from the JSON, not from the deserialized DAG: building the DAG imports the operators,
    the timetables and their libraries: a sixth of ``tasks states-for-dag-run``'s time.
    """
    if version is None:
        return []
    try:
        tasks = json.loads(version.serialized_dag)["tasks"]
        return ordering.topological_order(
            {task["task_id"]: task["downstream_task_ids"] for task in tasks}
        )
    except (ValueError, KeyError, TypeError, TradewindError):
        return []


# -- listing and changing runs (REST API, UI) ------------------------------------------------

MARKABLE_RUN_STATES = (
    DagRunState.QUEUED.value,
    DagRunState.SUCCESS.value,
    DagRunState.FAILED.value,
)


@dataclasses.dataclass(frozen=True)
class RunFilter:
    """What ``list_runs_page`` returns; None (or an empty Range) means no restriction."""

    dag_ids: Sequence[str] | None = None
    dag_id_pattern: str | None = None
    dag_id_prefix_pattern: str | None = None
    run_id_pattern: str | None = None
    run_id_prefix_pattern: str | None = None
    states: Sequence[str] | None = None
    run_types: Sequence[str] | None = None
    version_numbers: Sequence[int] | None = None
    conf_contains: str | None = None
    run_after: paging.Range = paging.Range()
    logical_date: paging.Range = paging.Range()
    start_date: paging.Range = paging.Range()
    end_date: paging.Range = paging.Range()
    updated_at: paging.Range = paging.Range()


RUN_ORDER_COLUMNS: Mapping[str, Any] = {
    "id": DagRun.id,
    "state": DagRun.state,
    "dag_id": DagRun.dag_id,
    "run_id": DagRun.run_id,
    "dag_run_id": DagRun.run_id,
    "logical_date": DagRun.logical_date,
    "run_after": DagRun.run_after,
    "start_date": DagRun.start_date,
    "end_date": DagRun.end_date,
    "updated_at": DagRun.updated_at,
    "queued_at": DagRun.queued_at,
    "run_type": DagRun.run_type,
}


def check_triggerable(session: Session, dag_id: str) -> None:
    """``DagNotFound`` for an unknown or removed DAG; ``InvalidRunRequest`` if its file is
    broken."""
    row = dag_service.get_dag_row(session, dag_id)
    if not row.is_active:
        raise DagNotFound(
            f"DAG with dag_id: '{dag_id}' not found (it is no longer in the DAG folder)"
        )
    if row.has_import_errors:
        raise InvalidRunRequest(
            f"DAG with dag_id: '{dag_id}' has import errors and cannot be triggered"
        )


def list_runs_page(
    session: Session,
    where: RunFilter,
    *,
    order_by: str | Sequence[str] | None,
    page: paging.Page,
    count_up_to: int | None = None,
) -> tuple[list[DagRun], int]:
    """One page of runs (oldest first by default) and the total (see ``paging.paginate`` for
    ``count_up_to``)."""
    clauses: list[Any] = [
        DagRun.dag_id.in_(list(where.dag_ids)) if where.dag_ids is not None else None,
        paging.pattern(DagRun.dag_id, where.dag_id_pattern),
        paging.prefix(DagRun.dag_id, where.dag_id_prefix_pattern),
        paging.pattern(DagRun.run_id, where.run_id_pattern),
        paging.prefix(DagRun.run_id, where.run_id_prefix_pattern),
        DagRun.state.in_(list(where.states)) if where.states else None,
        DagRun.run_type.in_(list(where.run_types)) if where.run_types else None,
        cast(DagRun.conf, Text).contains(where.conf_contains, autoescape=True)
        if where.conf_contains
        else None,
    ]
    if where.version_numbers:
        clauses.append(
            DagRun.dag_version_id.in_(
                select(DagVersion.id).where(
                    DagVersion.version_number.in_(list(where.version_numbers))
                )
            )
        )
    for range_, column in (
        (where.run_after, DagRun.run_after),
        (where.logical_date, DagRun.logical_date),
        (where.start_date, DagRun.start_date),
        (where.end_date, DagRun.end_date),
        (where.updated_at, DagRun.updated_at),
    ):
        clauses.extend(range_.clauses(column))
    query = paging.where_all(select(DagRun), clauses)
    order = paging.order_clauses(order_by, RUN_ORDER_COLUMNS, default=["id"], tie_breaker=DagRun.id)
    return paging.paginate(session, query, order, page, count_up_to=count_up_to)


def version_ids_of_runs(
    session: Session, runs: Sequence[DagRun]
) -> dict[tuple[str, str], list[int]]:
    """The dag_version ids each run's task instances ran with (the run's own one if none)."""
    found: dict[tuple[str, str], set[int]] = {(run.dag_id, run.run_id): set() for run in runs}
    for chunk in key_match.chunks(found):
        rows = session.execute(
            select(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.dag_version_id)
            .distinct()
            .where(key_match.keys_in((TaskInstance.dag_id, TaskInstance.run_id), chunk))
        )
        for dag_id, run_id, version_id in rows:
            if version_id is not None:
                found[(dag_id, run_id)].add(version_id)
    result: dict[tuple[str, str], list[int]] = {}
    for run in runs:
        ids = found[(run.dag_id, run.run_id)] or (
            {run.dag_version_id} if run.dag_version_id else set()
        )
        result[(run.dag_id, run.run_id)] = sorted(ids)
    return result


def set_run_state(
    session: Session, dag_id: str, run_id: str, state: str, *, now: datetime
) -> DagRun:
    """Mark a run queued, success or failed, with its task instances as Airflow does
    (``run_transitions.mark_run``)."""
    if state not in MARKABLE_RUN_STATES:
        raise InvalidStateTransition(
            f"cannot set a DAG run to {state!r}: expected one of {', '.join(MARKABLE_RUN_STATES)}"
        )
    run = get_run(session, dag_id, run_id)
    tis = list(
        session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        )
    )
    run_transitions.mark_run(run, tis, DagRunState(state), now)
    session.flush()
    return run


def set_run_note(session: Session, dag_id: str, run_id: str, note: str | None) -> DagRun:
    input_limits.check_note(note)
    run = get_run(session, dag_id, run_id)
    run.note = note
    session.flush()
    return run


def delete_run(session: Session, dag_id: str, run_id: str) -> None:
    """Delete a run with its task instances, their history and XComs (a backfill keeps its
    record of the date, without the run)."""
    run = get_run(session, dag_id, run_id)
    for model in (XCom, TaskInstanceHistory, TaskInstance):
        session.execute(delete(model).where(model.dag_id == dag_id, model.run_id == run_id))
    session.execute(
        update(BackfillDagRun).where(BackfillDagRun.dag_run_id == run.id).values(dag_run_id=None)
    )
    session.execute(delete(DagRun).where(DagRun.id == run.id))
    session.expire_all()
