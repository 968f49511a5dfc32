"""The shape of one stored DAG version as the UI draws it: tasks, groups, edges, params.

Read from the dag_version with ``serialization.deserialize_dag`` (never user code) and
flattened into plain frozen values. Versions are immutable, so each is read once per process
and kept in a small LRU cache; a page showing a run uses the version that run was pinned to.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import threading
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind import serialization, timetables
from tradewind.db.models import Dag, DagRun, DagVersion
from tradewind.exceptions import DagNotFound, TradewindError
from tradewind.sdk.dag import DAG
from tradewind.sdk.param import NOTSET
from tradewind.sdk.task_group import TaskGroup
from tradewind.services import dag_metadata

_CACHE_SIZE = 256


@dataclasses.dataclass(frozen=True)
class TaskShape:
    task_id: str
    label: str
    group_id: str | None
    operator: str
    is_mapped: bool
    ui_color: str
    ui_fgcolor: str
    upstream: tuple[str, ...]
    downstream: tuple[str, ...]
    trigger_rule: str
    retries: int
    pool: str
    queue: str
    owner: str
    doc: str | None


@dataclasses.dataclass(frozen=True)
class GroupShape:
    group_id: str
    label: str
    parent_id: str | None
    tooltip: str
    ui_color: str
    ui_fgcolor: str
    children: tuple[str, ...]
    task_ids: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class ParamShape:
    name: str
    has_default: bool
    default: Any
    description: str | None
    schema: dict[str, Any]

    @property
    def kind(self) -> str:
        """How the trigger form asks for it: integer, number, boolean, enum, json or string."""
        if "enum" in self.schema:
            return "enum"
        kind = self.schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if kind in {"integer", "number", "boolean", "string"}:
            return str(kind)
        if kind in {"array", "object"}:
            return "json"
        if self.has_default and isinstance(self.default, bool):
            return "boolean"
        if self.has_default and isinstance(self.default, (list, dict)):
            return "json"
        if self.has_default and isinstance(self.default, int):
            return "integer"
        if self.has_default and isinstance(self.default, float):
            return "number"
        return "string"


@dataclasses.dataclass(frozen=True)
class TreeRow:
    """One row of the grid: a task or a group, at a nesting depth."""

    kind: str  # "task" or "group"
    node_id: str
    label: str
    depth: int
    parent_id: str | None
    is_mapped: bool = False


@dataclasses.dataclass(frozen=True)
class DagShape:
    dag_id: str
    version_id: int
    version_number: int
    created_at: datetime | None
    fileloc: str | None
    description: str | None
    doc_md: str | None
    owner: str
    tags: tuple[str, ...]
    timetable_summary: str
    timetable_description: str
    timezone: str
    start_date: datetime | None
    end_date: datetime | None
    catchup: bool
    max_active_runs: int
    max_active_tasks: int
    tasks: dict[str, TaskShape]
    groups: dict[str, GroupShape]
    root_children: tuple[str, ...]
    rows: tuple[TreeRow, ...]
    params: tuple[ParamShape, ...]


class LruCache:
    """A small thread-safe LRU of values keyed by ``(version id, content hash)``."""

    def __init__(self, size: int) -> None:
        self._items: collections.OrderedDict[tuple[int, str], Any] = collections.OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str]) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[int, str], value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_shapes = LruCache(_CACHE_SIZE)
_schedules = LruCache(20_000)


def _relative(child_id: str, parent_id: str | None) -> str:
    if parent_id and child_id.startswith(parent_id + "."):
        return child_id[len(parent_id) + 1 :]
    return child_id


def _param_shapes(dag: DAG) -> tuple[ParamShape, ...]:
    shapes = []
    for name in dag.params:
        param = dag.params.get_param(name)
        default = param.value if param.has_value else None
        # Airflow's trigger form also takes its help text as Markdown (``description_md``);
        # shown as text here.
        description = param.description or param.schema.get("description_md")
        shapes.append(ParamShape(name, param.has_value, default, description, dict(param.schema)))
    return tuple(shapes)


def _child_ids(group: TaskGroup) -> tuple[str, ...]:
    return tuple(
        (c.group_id or "") if isinstance(c, TaskGroup) else c.task_id
        for c in group.children.values()
    )


def _shape(dag: DAG, version: DagVersion) -> DagShape:
    tasks: dict[str, TaskShape] = {}
    groups: dict[str, GroupShape] = {}
    rows: list[TreeRow] = []

    def walk(group: TaskGroup, depth: int) -> list[str]:
        child_ids: list[str] = []
        all_tasks: list[str] = []
        for child in group.children.values():
            if isinstance(child, TaskGroup):
                gid = child.group_id or ""
                child_ids.append(gid)
                rows.append(
                    TreeRow("group", gid, _relative(gid, group.group_id), depth, group.group_id)
                )
                members = walk(child, depth + 1)
                all_tasks.extend(members)
                groups[gid] = GroupShape(
                    group_id=gid,
                    label=_relative(gid, group.group_id),
                    parent_id=group.group_id,
                    tooltip=child.tooltip or "",
                    ui_color=child.ui_color,
                    ui_fgcolor=child.ui_fgcolor,
                    children=_child_ids(child),
                    task_ids=tuple(members),
                )
            else:
                task: Any = child
                child_ids.append(task.task_id)
                all_tasks.append(task.task_id)
                is_mapped = bool(getattr(task, "is_mapped", False))
                label = _relative(task.task_id, group.group_id)
                rows.append(TreeRow("task", task.task_id, label, depth, group.group_id, is_mapped))
                tasks[task.task_id] = TaskShape(
                    task_id=task.task_id,
                    label=label,
                    group_id=group.group_id,
                    operator=str(
                        getattr(task, "operator_name", None)
                        or getattr(task, "task_type", "")
                        or type(task).__name__
                    ),
                    is_mapped=is_mapped,
                    ui_color=str(getattr(task, "ui_color", "#fff") or "#fff"),
                    ui_fgcolor=str(getattr(task, "ui_fgcolor", "#000") or "#000"),
                    upstream=tuple(sorted(task.upstream_task_ids)),
                    downstream=tuple(sorted(task.downstream_task_ids)),
                    trigger_rule=str(getattr(task, "trigger_rule", "all_success")),
                    retries=int(getattr(task, "retries", 0) or 0),
                    pool=str(getattr(task, "pool", "default_pool")),
                    queue=str(getattr(task, "queue", "default")),
                    owner=str(getattr(task, "owner", "") or ""),
                    doc=getattr(task, "doc_md", None) or getattr(task, "doc", None),
                )
        return all_tasks

    root_children = _child_ids(dag.task_group)
    walk(dag.task_group, 0)
    timetable: Any = dag.timetable
    return DagShape(
        dag_id=dag.dag_id,
        version_id=version.id,
        version_number=version.version_number,
        created_at=version.created_at,
        fileloc=version.fileloc or dag.fileloc,
        description=dag.description,
        doc_md=dag.doc_md,
        owner=dag.owner,
        tags=tuple(sorted(dag.tags)),
        timetable_summary=timetable.summary,
        timetable_description=timetable.description,
        timezone=str(getattr(dag.timezone, "key", "UTC")),
        start_date=dag.start_date,
        end_date=dag.end_date,
        catchup=bool(dag.catchup),
        max_active_runs=dag.max_active_runs,
        max_active_tasks=dag.max_active_tasks,
        tasks=tasks,
        groups=groups,
        root_children=root_children,
        rows=tuple(rows),
        params=_param_shapes(dag),
    )


def shape_of_version(session: Session, version_id: int) -> DagShape:
    """The shape of one stored version (cached: versions never change).

    The cache key includes the content hash, so a metastore that was reset (ids reused for
    other content) never gets an old shape back.
    """
    content_hash = session.scalar(
        select(DagVersion.content_hash).where(DagVersion.id == version_id)
    )
    if content_hash is None:
        raise DagNotFound(f"DAG version {version_id} does not exist")
    cached = _shapes.get((version_id, content_hash))
    if cached is not None:
        return cached
    version = session.get(DagVersion, version_id)
    if version is None:
        raise DagNotFound(f"DAG version {version_id} does not exist")
    shape = _shape(serialization.deserialize_dag(version.serialized_dag), version)
    _shapes.put((version_id, content_hash), shape)
    return shape


def latest_version_id(session: Session, dag_id: str) -> int:
    row = session.get(Dag, dag_id)
    if row is None:
        raise DagNotFound(
            f"DAG {dag_id!r} not found in the metastore (has the DAG folder been parsed?)"
        )
    if row.latest_version_id is None:
        raise DagNotFound(f"DAG {dag_id!r} has no stored version")
    return row.latest_version_id


def latest_shape(session: Session, dag_id: str) -> DagShape:
    return shape_of_version(session, latest_version_id(session, dag_id))


def version_for_run(session: Session, dag_id: str, run_id: str | None) -> int:
    """Id of the version a run ran with; the latest
    version when no run is named or it was not pinned."""
    if run_id:
        version_id = session.scalar(
            select(DagRun.dag_version_id).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        )
        if version_id is not None:
            return int(version_id)
    return latest_version_id(session, dag_id)


def shape_for_run(session: Session, dag_id: str, run_id: str | None) -> DagShape:
    """The shape of the version a run ran with (see ``version_for_run``)."""
    return shape_of_version(session, version_for_run(session, dag_id, run_id))


@dataclasses.dataclass(frozen=True)
class ScheduleFacts:
    """What the DAG list shows of a version without deserializing the whole DAG."""

    description: str
    summary: str
    has_params: bool


def schedule_facts(session: Session, versions: list[tuple[int, str]]) -> dict[int, ScheduleFacts]:
    """Schedule words and "has params" of many ``(version id, content hash)``: one query for
    the ones not yet cached."""
    found: dict[int, ScheduleFacts] = {}
    missing = []
    hashes = dict(versions)
    for version_id, content_hash in versions:
        cached = _schedules.get((version_id, content_hash))
        if cached is None:
            missing.append(version_id)
        else:
            found[version_id] = cached
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        for version_id, text in session.execute(
            select(DagVersion.id, DagVersion.serialized_dag).where(DagVersion.id.in_(chunk))
        ):
            facts = _facts_from_text(text)
            _schedules.put((version_id, hashes[version_id]), facts)
            found[version_id] = facts
    return found


def _facts_from_text(text: str) -> ScheduleFacts:
    try:
        data = json.loads(text)
        timetable = timetables.deserialize(data["timetable"])
        return ScheduleFacts(timetable.description, timetable.summary, bool(data.get("params")))
    except (TradewindError, ValueError, KeyError, TypeError):
        return ScheduleFacts("unknown schedule", "?", False)


def param_default_text(param: ParamShape) -> str:
    """The default as the trigger form pre-fills it."""
    if not param.has_default or param.default is None or param.default is NOTSET:
        return ""
    if param.kind == "json":
        return json.dumps(param.default, indent=2)
    if isinstance(param.default, bool):
        return "true" if param.default else ""
    return str(param.default)


@dataclasses.dataclass(frozen=True)
class VersionInfo:
    version_id: int
    version_number: int
    created_at: datetime | None
    fileloc: str | None
    content_hash: str


@dataclasses.dataclass(frozen=True)
class VersionSource:
    version_id: int
    version_number: int
    created_at: datetime | None
    fileloc: str | None
    source_code: str


def versions(session: Session, dag_id: str) -> list[VersionInfo]:
    """Every stored version of a DAG, newest first (without the large serialized text)."""
    rows = session.execute(
        select(
            DagVersion.id,
            DagVersion.version_number,
            DagVersion.created_at,
            DagVersion.fileloc,
            DagVersion.content_hash,
        )
        .where(DagVersion.dag_id == dag_id)
        .order_by(DagVersion.version_number.desc())
    )
    return [VersionInfo(*row) for row in rows]


def version_source(session: Session, dag_id: str, version_number: int) -> VersionSource:
    version = dag_metadata.get_version(session, dag_id, version_number)
    return VersionSource(
        version.id,
        version.version_number,
        version.created_at,
        version.fileloc,
        version.source_code or "",
    )
