"""The DAG list page's data in a fixed number of queries, however many DAGs and runs there are.

One query for the page of DAGs (filtered, counted), one for their tags, one for their recent
runs (a window function over the ``(dag_id, run_after)`` index), one for schedule facts of
versions not yet cached, one for the tag cloud and one for import errors.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, true
from sqlalchemy.orm import Session, aliased

from tradewind.api.ui import models_structure
from tradewind.db.models import Dag, DagRun, DagTag, DagVersion
from tradewind.sdk import timezone
from tradewind.services import dags as dag_service

RECENT_RUNS = 10
MAX_PAGE_SIZE = 1000
#: Import errors every DAG list page shows (each bounded, see ``importer.bounded``); all of
#: them are at ``/api/v2/importErrors`` and ``tradewind dags list-import-errors``.
MAX_LISTED_IMPORT_ERRORS = 50


@dataclasses.dataclass(frozen=True)
class RunMark:
    run_id: str
    state: str
    when: datetime | None  # the logical date, or run_after for runs without one
    duration: float | None  # seconds; up to now while the run is unfinished


def seconds_between(session: Session, start: Any, end: Any) -> Any:
    """SQL for the seconds from ``start`` to ``end`` (reading two datetimes per row costs more)."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


@dataclasses.dataclass(frozen=True)
class DagListItem:
    dag_id: str
    description: str | None
    owners: str | None
    tags: tuple[str, ...]
    is_paused: bool
    fileloc: str | None
    schedule_summary: str | None
    schedule_description: str
    has_params: bool
    next_dagrun: datetime | None
    next_interval_start: datetime | None
    next_interval_end: datetime | None
    recent_runs: tuple[RunMark, ...]  # oldest first

    @property
    def last_run(self) -> RunMark | None:
        return self.recent_runs[-1] if self.recent_runs else None


@dataclasses.dataclass(frozen=True)
class DagListPage:
    items: tuple[DagListItem, ...]
    total: int
    page: int
    page_size: int
    counts: dict[str, int]  # all / active / paused, under the search and tag filters
    all_tags: tuple[str, ...]
    #: The first ``MAX_LISTED_IMPORT_ERRORS`` import errors, and how many there are.
    import_errors: tuple[dag_service.ImportErrorInfo, ...]
    import_error_count: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(query: Select, search: str, tags: list[str]) -> Select:
    query = query.where(Dag.is_active.is_(True))
    if search:
        query = query.where(func.lower(Dag.dag_id).like(_like(search.lower()), escape="\\"))
    if tags:
        query = query.where(Dag.dag_id.in_(select(DagTag.dag_id).where(DagTag.name.in_(tags))))
    return query


def recent_runs(
    session: Session, dag_ids: list[str], limit: int = RECENT_RUNS
) -> dict[str, list[RunMark]]:
    """The last ``limit`` runs of each DAG, oldest first.

    Each DAG reads only ``limit`` entries of the ``(dag_id, run_after)`` index, however long
    its history (a window function would sort it all): a ``LATERAL`` join on PostgreSQL, a
    correlated ``IN (... LIMIT n)`` on SQLite, which has no LATERAL and plans that one well
    (PostgreSQL would re-run it for every run row).
    """
    if not dag_ids:
        return {}
    now = timezone.utcnow()
    if session.get_bind().dialect.name == "postgresql":
        newest = (
            select(
                DagRun.run_id,
                DagRun.state,
                DagRun.run_after,
                DagRun.id,
                func.coalesce(DagRun.logical_date, DagRun.run_after).label("run_when"),
                seconds_between(
                    session, DagRun.start_date, func.coalesce(DagRun.end_date, now)
                ).label("seconds"),
            )
            .where(DagRun.dag_id == Dag.dag_id)
            .order_by(DagRun.run_after.desc(), DagRun.id.desc())
            .limit(limit)
            .lateral("newest")
        )
        query = (
            select(Dag.dag_id, newest.c.run_id, newest.c.state, newest.c.run_when, newest.c.seconds)
            .select_from(Dag)
            .join(newest, true())
            .where(Dag.dag_id.in_(dag_ids))
            .order_by(Dag.dag_id, newest.c.run_after, newest.c.id)
        )
    else:
        other = aliased(DagRun)
        ids = (
            select(other.id)
            .where(other.dag_id == Dag.dag_id)
            .order_by(other.run_after.desc(), other.id.desc())
            .limit(limit)
            .correlate(Dag)
        )
        query = (
            select(
                DagRun.dag_id,
                DagRun.run_id,
                DagRun.state,
                func.coalesce(DagRun.logical_date, DagRun.run_after),
                seconds_between(session, DagRun.start_date, func.coalesce(DagRun.end_date, now)),
            )
            .select_from(Dag)
            .join(DagRun, DagRun.id.in_(ids))
            .where(Dag.dag_id.in_(dag_ids))
            .order_by(DagRun.dag_id, DagRun.run_after, DagRun.id)
        )
    marks: dict[str, list[RunMark]] = defaultdict(list)
    for dag_id, run_id, state, when, duration in session.execute(query):
        marks[dag_id].append(
            RunMark(
                run_id, state, when, max(0.0, float(duration)) if duration is not None else None
            )
        )
    return marks


def dag_list(
    session: Session,
    *,
    search: str = "",
    tags: list[str] | None = None,
    status: str = "all",
    page: int = 1,
    page_size: int = 50,
) -> DagListPage:
    tags = [tag for tag in (tags or []) if tag]
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    page = max(1, page)

    count_rows = session.execute(
        _filtered(select(Dag.is_paused, func.count()).select_from(Dag), search, tags).group_by(
            Dag.is_paused
        )
    ).all()
    paused = sum(n for is_paused, n in count_rows if is_paused)
    active = sum(n for is_paused, n in count_rows if not is_paused)
    counts = {"all": paused + active, "active": active, "paused": paused}

    query = _filtered(
        select(
            Dag.dag_id,
            Dag.description,
            Dag.owners,
            Dag.is_paused,
            Dag.fileloc,
            Dag.timetable_summary,
            Dag.latest_version_id,
            Dag.next_dagrun,
            Dag.next_dagrun_data_interval_start,
            Dag.next_dagrun_data_interval_end,
            DagVersion.content_hash,
        ).outerjoin(DagVersion, DagVersion.id == Dag.latest_version_id),
        search,
        tags,
    )
    if status == "active":
        query = query.where(Dag.is_paused.is_(False))
    elif status == "paused":
        query = query.where(Dag.is_paused.is_(True))
    total = counts.get(status, counts["all"])
    rows = session.execute(
        query.order_by(Dag.dag_id).offset((page - 1) * page_size).limit(page_size)
    ).all()
    dag_ids = [row.dag_id for row in rows]

    tags_by_dag: dict[str, list[str]] = defaultdict(list)
    if dag_ids:
        for dag_id, name in session.execute(
            select(DagTag.dag_id, DagTag.name)
            .where(DagTag.dag_id.in_(dag_ids))
            .order_by(DagTag.name)
        ):
            tags_by_dag[dag_id].append(name)
    runs = recent_runs(session, dag_ids)
    facts = models_structure.schedule_facts(
        session,
        [(row.latest_version_id, row.content_hash) for row in rows if row.latest_version_id],
    )

    items = []
    for row in rows:
        fact = facts.get(row.latest_version_id) if row.latest_version_id else None
        items.append(
            DagListItem(
                dag_id=row.dag_id,
                description=row.description,
                owners=row.owners,
                tags=tuple(tags_by_dag[row.dag_id]),
                is_paused=row.is_paused,
                fileloc=row.fileloc,
                schedule_summary=row.timetable_summary,
                schedule_description=fact.description if fact else (row.timetable_summary or ""),
                has_params=fact.has_params if fact else False,
                next_dagrun=row.next_dagrun,
                next_interval_start=row.next_dagrun_data_interval_start,
                next_interval_end=row.next_dagrun_data_interval_end,
                recent_runs=tuple(runs.get(row.dag_id, ())),
            )
        )
    all_tags = tuple(
        session.scalars(
            select(DagTag.name)
            .join(Dag, Dag.dag_id == DagTag.dag_id)
            .where(Dag.is_active.is_(True))
            .distinct()
            .order_by(DagTag.name)
        )
    )
    return DagListPage(
        items=tuple(items),
        total=total,
        page=page,
        page_size=page_size,
        counts=counts,
        all_tags=all_tags,
        import_errors=tuple(
            dag_service.list_import_errors(session, limit=MAX_LISTED_IMPORT_ERRORS)
        ),
        import_error_count=dag_service.count_import_errors(session),
    )


@dataclasses.dataclass(frozen=True)
class DagHeader:
    """What the top of every DAG page shows."""

    dag_id: str
    description: str | None
    owners: str | None
    tags: tuple[str, ...]
    is_paused: bool
    is_active: bool
    fileloc: str | None
    next_dagrun: datetime | None
    next_interval_start: datetime | None
    next_interval_end: datetime | None
    latest_version_id: int | None
    schedule_description: str
    schedule_summary: str | None
    has_params: bool
    last_run: RunMark | None


def dag_header(session: Session, dag_id: str) -> DagHeader:
    row = dag_service.get_dag_row(session, dag_id)
    content_hash = session.scalar(
        select(DagVersion.content_hash).where(DagVersion.id == row.latest_version_id)
    )
    fact = (
        models_structure.schedule_facts(session, [(row.latest_version_id, content_hash)]).get(
            row.latest_version_id
        )
        if row.latest_version_id and content_hash
        else None
    )
    last = recent_runs(session, [dag_id], limit=1).get(dag_id)
    return DagHeader(
        dag_id=row.dag_id,
        description=row.description,
        owners=row.owners,
        tags=tuple(t.name for t in row.tags),
        is_paused=row.is_paused,
        is_active=row.is_active,
        fileloc=row.fileloc,
        next_dagrun=row.next_dagrun,
        next_interval_start=row.next_dagrun_data_interval_start,
        next_interval_end=row.next_dagrun_data_interval_end,
        latest_version_id=row.latest_version_id,
        schedule_description=fact.description if fact else (row.timetable_summary or ""),
        schedule_summary=row.timetable_summary,
        has_params=fact.has_params if fact else False,
        last_run=last[-1] if last else None,
    )
