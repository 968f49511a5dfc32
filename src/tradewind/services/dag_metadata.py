"""What the metastore holds about DAGs beyond scheduling, for the REST API and the UI.

Listings with filters and pages, per-version summaries (display names, schedule in words)
read from the stored JSON without building the DAG, versions and their sources, import
errors, and deleting a DAG's metadata. Nothing here imports user code.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, defer, selectinload

from tradewind import timetables
from tradewind.db.models import (
    Backfill,
    BackfillDagRun,
    Dag,
    DagRun,
    DagTag,
    DagVersion,
    ParseImportError,
    TaskInstance,
    TaskInstanceHistory,
    XCom,
)
from tradewind.exceptions import TradewindError
from tradewind.services import dags as dag_service
from tradewind.services import paging


class DagBusy(TradewindError):
    """The DAG cannot be changed that way while its tasks run."""


class DagVersionNotFound(TradewindError):
    """No such DAG version."""


class ImportErrorNotFound(TradewindError):
    """No such import error."""


@dataclasses.dataclass(frozen=True)
class TaskSummary:
    task_id: str
    display_name: str
    operator_name: str


@dataclasses.dataclass(frozen=True)
class VersionSummary:
    """What listings need of one stored DAG version, read from its JSON without building the DAG."""

    dag_id: str
    display_name: str
    timetable_summary: str | None
    timetable_description: str | None
    periodic: bool
    has_task_concurrency_limits: bool
    catchup: bool
    tasks: Mapping[str, TaskSummary]

    def task_display_name(self, task_id: str) -> str:
        task = self.tasks.get(task_id)
        return task.display_name if task is not None else task_id


@dataclasses.dataclass(frozen=True)
class DagListing:
    """A DAG row with its latest version and that version's summary (None before a first parse)."""

    row: Dag
    version: DagVersion | None
    summary: VersionSummary | None

    @property
    def display_name(self) -> str:
        return self.summary.display_name if self.summary is not None else self.row.dag_id


@dataclasses.dataclass(frozen=True)
class DagFilter:
    """What ``list_dags_page`` returns; None means no restriction."""

    dag_id_pattern: str | None = None
    dag_id_prefix_pattern: str | None = None
    tags: Sequence[str] | None = None
    tags_match_all: bool = False
    owners: Sequence[str] | None = None
    paused: bool | None = None
    exclude_stale: bool = True
    has_import_errors: bool | None = None
    last_run_states: Sequence[str] | None = None
    dag_ids: Sequence[str] | None = None


_SUMMARY_CACHE_SIZE = 512
_summary_cache: OrderedDict[str, VersionSummary] = OrderedDict()
_summary_lock = threading.Lock()


def _summarize(serialized: str) -> VersionSummary:
    data = json.loads(serialized)
    summary: str | None = None
    description: str | None = None
    periodic = False
    try:
        timetable = timetables.deserialize(data["timetable"])
        summary, description, periodic = (
            timetable.summary,
            timetable.description,
            bool(timetable.periodic),
        )
    except (TradewindError, KeyError, TypeError, ValueError):
        pass
    tasks: dict[str, TaskSummary] = {}
    limits = False
    for item in data.get("tasks") or []:
        task_id = item["task_id"]
        display = item.get("task_display_name") or task_id
        operator = item.get("operator_name") or item.get("task_type") or ""
        tasks[task_id] = TaskSummary(task_id, str(display), str(operator))
        limits = limits or bool(
            item.get("max_active_tis_per_dag") or item.get("max_active_tis_per_dagrun")
        )
    return VersionSummary(
        dag_id=data["dag_id"],
        display_name=str(data.get("dag_display_name") or data["dag_id"]),
        timetable_summary=summary,
        timetable_description=description,
        periodic=periodic,
        has_task_concurrency_limits=limits,
        catchup=bool(data.get("catchup")),
        tasks=tasks,
    )


def version_summary(version: DagVersion) -> VersionSummary:
    """The summary of a stored version; cached by content hash, as versions never change."""
    key = version.content_hash
    with _summary_lock:
        found = _summary_cache.get(key)
        if found is not None:
            _summary_cache.move_to_end(key)
            return found
    made = _summarize(version.serialized_dag)
    with _summary_lock:
        _summary_cache[key] = made
        while len(_summary_cache) > _SUMMARY_CACHE_SIZE:
            _summary_cache.popitem(last=False)
    return made


def versions_by_id(session: Session, version_ids: Iterable[int | None]) -> dict[int, DagVersion]:
    ids = sorted({vid for vid in version_ids if vid is not None})
    if not ids:
        return {}
    # The JSON and the source are loaded only when a summary is not cached yet.
    query = (
        select(DagVersion)
        .where(DagVersion.id.in_(ids))
        .options(defer(DagVersion.serialized_dag), defer(DagVersion.source_code))
    )
    return {v.id: v for v in session.scalars(query)}


def listings(session: Session, rows: Sequence[Dag]) -> list[DagListing]:
    versions = versions_by_id(session, (row.latest_version_id for row in rows))
    result = []
    for row in rows:
        version = versions.get(row.latest_version_id) if row.latest_version_id is not None else None
        result.append(
            DagListing(row, version, version_summary(version) if version is not None else None)
        )
    return result


def display_names(session: Session, dag_ids: Iterable[str]) -> dict[str, str]:
    """``dag_display_name`` of each DAG (its id when unknown)."""
    ids = sorted(set(dag_ids))
    if not ids:
        return {}
    rows = list(session.scalars(select(Dag).where(Dag.dag_id.in_(ids))))
    names = {dag_id: dag_id for dag_id in ids}
    names.update({item.row.dag_id: item.display_name for item in listings(session, rows)})
    return names


def latest_run_state_subquery() -> Any:
    """The state of each DAG's latest run (by run_after), correlated to ``dag``."""
    return (
        select(DagRun.state)
        .where(DagRun.dag_id == Dag.dag_id)
        .order_by(DagRun.run_after.desc(), DagRun.id.desc())
        .limit(1)
        .correlate(Dag)
        .scalar_subquery()
    )


def _latest_run_start_subquery() -> Any:
    return (
        select(DagRun.start_date)
        .where(DagRun.dag_id == Dag.dag_id)
        .order_by(DagRun.run_after.desc(), DagRun.id.desc())
        .limit(1)
        .correlate(Dag)
        .scalar_subquery()
    )


DAG_ORDER_COLUMNS: Mapping[str, Any] = {
    "dag_id": Dag.dag_id,
    "dag_display_name": Dag.dag_id,
    "next_dagrun": Dag.next_dagrun,
    "is_paused": Dag.is_paused,
    "fileloc": Dag.fileloc,
    "last_parsed_time": Dag.last_parsed_time,
    "last_run_state": latest_run_state_subquery(),
    "last_run_start_date": _latest_run_start_subquery(),
}


def _dag_clauses(where: DagFilter) -> list[Any]:
    clauses: list[Any] = [
        paging.pattern(Dag.dag_id, where.dag_id_pattern),
        paging.prefix(Dag.dag_id, where.dag_id_prefix_pattern),
        Dag.is_paused.is_(where.paused) if where.paused is not None else None,
        Dag.is_active.is_(True) if where.exclude_stale else None,
        Dag.has_import_errors.is_(where.has_import_errors)
        if where.has_import_errors is not None
        else None,
        Dag.dag_id.in_(list(where.dag_ids)) if where.dag_ids is not None else None,
        latest_run_state_subquery().in_(list(where.last_run_states))
        if where.last_run_states
        else None,
    ]
    if where.tags:
        tags = sorted(set(where.tags))
        if where.tags_match_all:
            for tag in tags:
                clauses.append(Dag.dag_id.in_(select(DagTag.dag_id).where(DagTag.name == tag)))
        else:
            clauses.append(Dag.dag_id.in_(select(DagTag.dag_id).where(DagTag.name.in_(tags))))
    if where.owners:
        clauses.append(or_(*[Dag.owners.ilike(f"%{owner}%") for owner in where.owners]))
    return clauses


def list_dags_page(
    session: Session, where: DagFilter, *, order_by: str | Sequence[str] | None, page: paging.Page
) -> tuple[list[DagListing], int]:
    """One page of DAGs (by dag_id unless ``order_by`` says otherwise) and the total."""
    # The page's tags in one query, not one per DAG as the response reads them.
    query = paging.where_all(select(Dag).options(selectinload(Dag.tags)), _dag_clauses(where))
    order = paging.order_clauses(
        order_by, DAG_ORDER_COLUMNS, default=["dag_id"], tie_breaker=Dag.dag_id
    )
    rows, total = paging.paginate(session, query, order, page)
    return listings(session, rows), total


def matching_dag_ids(session: Session, where: DagFilter) -> list[str]:
    return list(
        session.scalars(
            paging.where_all(select(Dag.dag_id), _dag_clauses(where)).order_by(Dag.dag_id)
        )
    )


def dag_listing(session: Session, dag_id: str) -> DagListing:
    return listings(session, [dag_service.get_dag_row(session, dag_id)])[0]


def active_runs_count(session: Session, dag_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(DagRun)
            .where(DagRun.dag_id == dag_id, DagRun.state.in_(("queued", "running")))
        )
        or 0
    )


def delete_dag(session: Session, dag_id: str) -> None:
    """Delete a DAG's metadata: runs, task instances, XComs, versions, tags (not the audit log).

    Refused while any of its task instances is queued or running. The DAG file is left alone:
    while it is in the DAG folder, the DAG processor stores the DAG again at its next scan, as
    a new DAG, as Airflow does. The other DAGs of the same file are marked unparsed (no
    ``last_parsed_time``) so that a processor started later parses the file again too; the
    caller wakes a running one (``wakeup.DAG_PROCESSOR``) once this has committed.
    """
    row = dag_service.get_dag_row(session, dag_id)
    fileloc = row.fileloc
    busy = session.scalar(
        select(func.count())
        .select_from(TaskInstance)
        .where(TaskInstance.dag_id == dag_id, TaskInstance.state.in_(("queued", "running")))
    )
    if busy:
        raise DagBusy(f"Task instances of dag with id: '{dag_id}' are still running")
    for model in (XCom, TaskInstanceHistory, TaskInstance):
        session.execute(delete(model).where(model.dag_id == dag_id))
    run_ids = select(DagRun.id).where(DagRun.dag_id == dag_id)
    session.execute(delete(BackfillDagRun).where(BackfillDagRun.dag_run_id.in_(run_ids)))
    session.execute(delete(DagRun).where(DagRun.dag_id == dag_id))
    session.execute(delete(Backfill).where(Backfill.dag_id == dag_id))
    session.execute(update(Dag).where(Dag.dag_id == dag_id).values(latest_version_id=None))
    session.execute(delete(DagVersion).where(DagVersion.dag_id == dag_id))
    session.execute(delete(DagTag).where(DagTag.dag_id == dag_id))
    session.execute(delete(Dag).where(Dag.dag_id == dag_id))
    if fileloc is not None:
        session.execute(update(Dag).where(Dag.fileloc == fileloc).values(last_parsed_time=None))
    session.expire_all()


VERSION_ORDER_COLUMNS: Mapping[str, Any] = {
    "id": DagVersion.id,
    "version_number": DagVersion.version_number,
    "created_at": DagVersion.created_at,
    "dag_id": DagVersion.dag_id,
}


def list_versions_page(
    session: Session,
    dag_id: str | None,
    *,
    version_number: int | None = None,
    order_by: str | Sequence[str] | None = None,
    page: paging.Page,
) -> tuple[list[DagVersion], int]:
    """Versions of one DAG (or of all, for ``dag_id=None``), oldest first by default."""
    if dag_id is not None:
        dag_service.get_dag_row(session, dag_id)
    query = paging.where_all(
        select(DagVersion),
        [
            DagVersion.dag_id == dag_id if dag_id is not None else None,
            DagVersion.version_number == version_number if version_number is not None else None,
        ],
    )
    order = paging.order_clauses(
        order_by, VERSION_ORDER_COLUMNS, default=["id"], tie_breaker=DagVersion.id
    )
    return paging.paginate(session, query, order, page)


def get_version(session: Session, dag_id: str, version_number: int | None = None) -> DagVersion:
    """Version ``version_number`` of the DAG, or its latest version."""
    if version_number is None:
        return dag_service.latest_dag(session, dag_id)[1]
    dag_service.get_dag_row(session, dag_id)
    version = session.scalar(
        select(DagVersion).where(
            DagVersion.dag_id == dag_id, DagVersion.version_number == version_number
        )
    )
    if version is None:
        raise DagVersionNotFound(
            f"The DagVersion with dag_id: `{dag_id}` and version_number: `{version_number}` was "
            "not found"
        )
    return version


IMPORT_ERROR_ORDER_COLUMNS: Mapping[str, Any] = {
    "id": ParseImportError.id,
    "import_error_id": ParseImportError.id,
    "timestamp": ParseImportError.timestamp,
    "filename": ParseImportError.filename,
}


def list_import_errors_page(
    session: Session,
    *,
    filename: str | None = None,
    filename_pattern: str | None = None,
    filename_prefix_pattern: str | None = None,
    order_by: str | Sequence[str] | None = None,
    page: paging.Page,
) -> tuple[list[ParseImportError], int]:
    query = paging.where_all(
        select(ParseImportError),
        [
            ParseImportError.filename == filename if filename is not None else None,
            paging.pattern(ParseImportError.filename, filename_pattern),
            paging.prefix(ParseImportError.filename, filename_prefix_pattern),
        ],
    )
    order = paging.order_clauses(
        order_by, IMPORT_ERROR_ORDER_COLUMNS, default=["id"], tie_breaker=ParseImportError.id
    )
    return paging.paginate(session, query, order, page)


def get_import_error(session: Session, import_error_id: int) -> ParseImportError:
    row = session.get(ParseImportError, import_error_id)
    if row is None:
        raise ImportErrorNotFound(
            f"The ImportError with import_error_id: `{import_error_id}` was not found"
        )
    return row


def list_tags_page(
    session: Session,
    *,
    name_pattern: str | None = None,
    name_prefix_pattern: str | None = None,
    descending: bool = False,
    page: paging.Page,
) -> tuple[list[str], int]:
    """Distinct tag names of active DAGs, alphabetical."""
    query = paging.where_all(
        select(DagTag.name)
        .distinct()
        .join(Dag, Dag.dag_id == DagTag.dag_id)
        .where(Dag.is_active.is_(True)),
        [
            paging.pattern(DagTag.name, name_pattern),
            paging.prefix(DagTag.name, name_prefix_pattern),
        ],
    )
    return paging.paginate(
        session, query, [DagTag.name.desc() if descending else DagTag.name.asc()], page
    )
