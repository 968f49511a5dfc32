"""One DAG run as the UI shows it: details, the gantt
chart of its tries, and the calendar of runs."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.api.ui import models_grid
from tradewind.db.models import DagRun, DagVersion, TaskInstance, TaskInstanceHistory
from tradewind.exceptions import DagRunNotFound
from tradewind.sdk import timezone


@dataclasses.dataclass(frozen=True)
class RunDetails:
    dag_id: str
    run_id: str
    state: str
    run_type: str
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_after: datetime | None
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    conf: dict[str, Any]
    note: str | None
    triggered_by: str | None
    dag_version_id: int | None
    version_number: int | None
    clear_number: int
    backfill_id: int | None
    task_counts: dict[str, int]

    @property
    def duration(self) -> float | None:
        if self.start_date is None:
            return None
        return ((self.end_date or timezone.utcnow()) - self.start_date).total_seconds()


def run_details(session: Session, dag_id: str, run_id: str) -> RunDetails:
    run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if run is None:
        raise DagRunNotFound(f"DAG {dag_id!r} has no run {run_id!r}")
    number = (
        session.scalar(select(DagVersion.version_number).where(DagVersion.id == run.dag_version_id))
        if run.dag_version_id
        else None
    )
    counts = Counter(
        state or "none"
        for state in session.scalars(
            select(TaskInstance.state).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        )
    )
    return RunDetails(
        dag_id=dag_id,
        run_id=run.run_id,
        state=run.state,
        run_type=run.run_type,
        logical_date=run.logical_date,
        data_interval_start=run.data_interval_start,
        data_interval_end=run.data_interval_end,
        run_after=run.run_after,
        queued_at=run.queued_at,
        start_date=run.start_date,
        end_date=run.end_date,
        conf=dict(run.conf or {}),
        note=run.note,
        triggered_by=run.triggered_by,
        dag_version_id=run.dag_version_id,
        version_number=number,
        clear_number=run.clear_number or 0,
        backfill_id=run.backfill_id,
        task_counts=dict(counts),
    )


@dataclasses.dataclass(frozen=True)
class GanttBar:
    task_id: str
    map_index: int
    try_number: int
    state: str | None
    queued: datetime | None
    start: datetime | None
    end: datetime | None
    left: float  # percent of the chart
    queued_left: float
    width: float
    queued_width: float


@dataclasses.dataclass(frozen=True)
class Gantt:
    start: datetime | None
    end: datetime | None
    rows: tuple[tuple[str, int, tuple[GanttBar, ...]], ...]  # (task_id, map_index, tries)

    @property
    def span(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return (self.end - self.start).total_seconds()


def gantt(session: Session, dag_id: str, run_id: str, task_order: list[str]) -> Gantt:
    """Every try of every task instance of the run, placed on one time axis."""
    columns = (
        TaskInstance.task_id,
        TaskInstance.map_index,
        TaskInstance.try_number,
        TaskInstance.state,
        TaskInstance.queued_dttm,
        TaskInstance.start_date,
        TaskInstance.end_date,
    )
    current = session.execute(
        select(*columns).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
    ).all()
    history_columns = tuple(getattr(TaskInstanceHistory, c.key) for c in columns)
    history = session.execute(
        select(*history_columns).where(
            TaskInstanceHistory.dag_id == dag_id, TaskInstanceHistory.run_id == run_id
        )
    ).all()
    tries: dict[tuple[str, int], dict[int, Any]] = defaultdict(dict)
    for row in history:
        tries[(row.task_id, row.map_index)][row.try_number] = row
    for row in current:
        if (
            row.start_date is not None
            or row.queued_dttm is not None
            or (row.task_id, row.map_index) not in tries
        ):
            tries[(row.task_id, row.map_index)][row.try_number] = row
    now = timezone.utcnow()
    moments = [
        moment
        for by_try in tries.values()
        for r in by_try.values()
        for moment in (r.queued_dttm, r.start_date, r.end_date)
        if moment
    ]
    unfinished = any(
        r.start_date and not r.end_date for by_try in tries.values() for r in by_try.values()
    )
    start = min(moments) if moments else None
    end = max(moments + ([now] if unfinished else [])) if moments else None
    span = (end - start).total_seconds() if start and end else 0.0

    def pct(moment: datetime | None) -> float:
        if moment is None or start is None or span <= 0:
            return 0.0
        return max(0.0, min(100.0, (moment - start).total_seconds() / span * 100))

    position = {task_id: index for index, task_id in enumerate(task_order)}
    rows = []
    far = datetime.max.replace(tzinfo=start.tzinfo) if start else None

    def first_moment(by_try: dict[int, Any]) -> Any:
        found = [m for r in by_try.values() for m in (r.queued_dttm, r.start_date) if m]
        return min(found) if found else far

    # As Airflow: by when each task instance first got going, then in the DAG's task order.
    for (task_id, map_index), by_try in sorted(
        tries.items(),
        key=lambda item: (
            first_moment(item[1]),
            position.get(item[0][0], len(position)),
            item[0][0],
            item[0][1],
        ),
    ):
        bars = []
        for number in sorted(by_try):
            r = by_try[number]
            if r.start_date is None and r.queued_dttm is None:
                continue
            begin = r.start_date
            finish = r.end_date or (now if r.start_date else None)
            left, right = pct(begin), pct(finish)
            q_left = pct(r.queued_dttm) if r.queued_dttm else left
            bars.append(
                GanttBar(
                    task_id,
                    map_index,
                    number,
                    r.state,
                    r.queued_dttm,
                    r.start_date,
                    r.end_date,
                    left,
                    q_left,
                    max(right - left, 0.3) if begin else 0.0,
                    max(left - q_left, 0.0),
                )
            )
        rows.append((task_id, map_index, tuple(bars)))
    return Gantt(start, end, tuple(rows))


@dataclasses.dataclass(frozen=True)
class CalendarDay:
    day: date
    state: str | None
    counts: dict[str, int]


@dataclasses.dataclass(frozen=True)
class Calendar:
    weeks: tuple[tuple[CalendarDay | None, ...], ...]  # columns of 7 days, Monday first
    months: tuple[tuple[int, str], ...]  # (week index, month label)
    first: date
    last: date


_RUN_PRIORITY = ("failed", "running", "queued", "success")


def calendar(
    session: Session, dag_id: str, zone: tzinfo, *, days: int = 371, today: date | None = None
) -> Calendar:
    """Runs per day (by logical date, else run_after, in ``zone``) over about a year."""
    today = today or timezone.utcnow().astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    first -= timedelta(days=first.weekday())
    since = datetime(first.year, first.month, first.day, tzinfo=zone) - timedelta(days=1)
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    for logical, run_after, state in session.execute(
        select(DagRun.logical_date, DagRun.run_after, DagRun.state).where(
            DagRun.dag_id == dag_id, DagRun.run_after >= since
        )
    ):
        moment = logical or run_after
        if moment is None:
            continue
        counts[moment.astimezone(zone).date()][state] += 1
    weeks: list[tuple[CalendarDay | None, ...]] = []
    months: list[tuple[int, str]] = []
    day = first
    while day <= today:
        week: list[CalendarDay | None] = []
        for _ in range(7):
            if day > today:
                week.append(None)
            else:
                found = counts.get(day, Counter())
                shown = next((s for s in _RUN_PRIORITY if found.get(s)), None)
                week.append(CalendarDay(day, shown, dict(found)))
                if day.day == 1 or (not months and not weeks and not week[:-1]):
                    months.append((len(weeks), day.strftime("%b")))
            day += timedelta(days=1)
        weeks.append(tuple(week))
    return Calendar(tuple(weeks), tuple(months), first, today)


def runs_for_select(session: Session, dag_id: str, limit: int = 50) -> list[models_grid.GridRun]:
    """Recent runs, newest first, for the run pickers of the graph, gantt and code views."""
    return list(reversed(models_grid.grid_runs(session, dag_id, limit=limit)))


@dataclasses.dataclass(frozen=True)
class RunTaskRow:
    task_id: str
    map_index: int
    state: str | None
    try_number: int
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    operator: str | None


def run_task_instances(
    session: Session, dag_id: str, run_id: str, task_order: list[str]
) -> list[RunTaskRow]:
    """The run's task instances in the DAG's task order."""
    position = {task_id: index for index, task_id in enumerate(task_order)}
    rows = session.execute(
        select(
            TaskInstance.task_id,
            TaskInstance.map_index,
            TaskInstance.state,
            TaskInstance.try_number,
            TaskInstance.start_date,
            TaskInstance.end_date,
            TaskInstance.duration,
            TaskInstance.operator,
        ).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
    ).all()
    found = [RunTaskRow(*row) for row in rows]
    found.sort(key=lambda r: (position.get(r.task_id, len(position)), r.task_id, r.map_index))
    return found


@dataclasses.dataclass(frozen=True)
class RunListRow:
    dag_id: str
    run_id: str
    state: str
    run_type: str
    logical_date: datetime | None
    run_after: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    triggered_by: str | None

    @classmethod
    def of(cls, run: DagRun) -> RunListRow:
        return cls(
            run.dag_id,
            run.run_id,
            run.state,
            run.run_type,
            run.logical_date,
            run.run_after,
            run.start_date,
            run.end_date,
            run.triggered_by,
        )

    @property
    def duration(self) -> float | None:
        if self.start_date is None:
            return None
        return ((self.end_date or timezone.utcnow()) - self.start_date).total_seconds()
