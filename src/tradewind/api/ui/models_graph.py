"""The structure of a stored DAG version as the graph page draws it: compact JSON.

The browser lays the graph out and draws it, so the server sends only what the drawing
needs: task ids, operators, which tasks are mapped, edges and the task group tree. The
document is read straight from the stored serialized DAG (``json.loads`` and a walk over
ids) instead of ``serialization.deserialize_dag``, which builds an operator per task: for
5,000 tasks that is about 0.1 s instead of 0.5 s on the first view of a version. Versions
never change, so each document is built and gzip-compressed once and kept in an LRU.

The JSON (one object, no spaces)::

    {"dag_id": "...", "version": 3,
     "operators": ["EmptyOperator", "@task"],          # each operator name once
     "tasks": [["start", 0, 0], ["each", 1, 1]],        # [task id, operator index, mapped 0/1]
     "groups": [{"id": "etl", "tooltip": "...", "children": [1, 2]}],
     "root": [0, -1, 3],                                # children of the DAG itself
     "edges": [0, 1, 1, 2]}                             # upstream, downstream task index pairs

In ``children`` and ``root`` a number ``n >= 0`` is task ``n`` and ``n < 0`` is group
``-n - 1``, in definition order. Task and group ids are full ids (``etl.extract``).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind import serialization
from tradewind.api.ui import models_grid, models_structure
from tradewind.db.models import DagRun, DagVersion, TaskInstance
from tradewind.exceptions import DagNotFound

_CACHE_SIZE = 128


@dataclasses.dataclass(frozen=True)
class GraphDocument:
    """One version's graph: the JSON body (plain and gzip-compressed) and its group members."""

    dag_id: str
    version_id: int
    version_number: int
    content_hash: str
    task_count: int
    group_members: Mapping[str, tuple[str, ...]]  # group id -> every task id inside it
    body: bytes
    gzipped: bytes

    @property
    def etag(self) -> str:
        return f'W/"graph-{self.version_id}-{self.content_hash}"'


_documents = models_structure.LruCache(_CACHE_SIZE)


def graph_for_run(session: Session, dag_id: str, run_id: str | None) -> GraphDocument:
    """The graph of the version a run ran with; the latest version when no run is named."""
    return graph_of_version(session, models_structure.version_for_run(session, dag_id, run_id))


def graph_of_version(session: Session, version_id: int) -> GraphDocument:
    """The graph of one stored version (cached by id and content hash, as shapes are)."""
    content_hash = session.scalar(
        select(DagVersion.content_hash).where(DagVersion.id == version_id)
    )
    if content_hash is None:
        raise DagNotFound(f"DAG version {version_id} does not exist")
    cached = _documents.get((version_id, content_hash))
    if cached is not None:
        return cached
    row = session.execute(
        select(DagVersion.dag_id, DagVersion.version_number, DagVersion.serialized_dag).where(
            DagVersion.id == version_id
        )
    ).one()
    document = build_document(
        row.dag_id, version_id, row.version_number, content_hash, row.serialized_dag
    )
    _documents.put((version_id, content_hash), document)
    return document


def build_document(
    dag_id: str, version_id: int, version_number: int, content_hash: str, text: str
) -> GraphDocument:
    """The document of one serialized DAG (the text ``serialization.dumps`` wrote).

    Raises ``SerializationError`` when the text is not such a DAG. A task the group tree
    leaves out is drawn at the top level, and one it names twice is drawn once.
    """
    data = _load(dag_id, text)
    try:
        return _document(data, dag_id, version_id, version_number, content_hash)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise serialization.SerializationError(
            f"cannot read the tasks of stored DAG {dag_id!r}: {exc!r}"
        ) from exc


def _document(
    data: dict[str, Any], dag_id: str, version_id: int, version_number: int, content_hash: str
) -> GraphDocument:
    tasks: list[list[Any]] = []
    index: dict[str, int] = {}
    operators: dict[str, int] = {}
    for task in data.get("tasks") or ():
        task_id = str(task["task_id"])
        operator = str(task.get("operator_name") or task.get("task_type") or "")
        index[task_id] = len(tasks)
        tasks.append(
            [
                task_id,
                operators.setdefault(operator, len(operators)),
                1 if task.get("is_mapped") else 0,
            ]
        )
    edges: list[int] = []
    for task in data.get("tasks") or ():
        source = index[str(task["task_id"])]
        for downstream in sorted(task.get("downstream_task_ids") or ()):
            if downstream in index:
                edges += (source, index[downstream])
    groups: list[dict[str, Any]] = []
    members: dict[str, tuple[str, ...]] = {}
    placed: set[str] = set()

    def children_of(node: Mapping[str, Any]) -> tuple[list[int], list[str]]:
        """Child numbers of a group node, and every task id below it."""
        numbers: list[int] = []
        below: list[str] = []
        for child in node.get("children") or ():
            if isinstance(child, str):
                if child in index and child not in placed:
                    placed.add(child)
                    numbers.append(index[child])
                    below.append(child)
                continue
            group: dict[str, Any] = {
                "id": str(child["group_id"]),
                "tooltip": child.get("tooltip") or "",
                "children": [],
            }
            numbers.append(-len(groups) - 1)
            groups.append(group)
            group["children"], inside = children_of(child)
            members[group["id"]] = tuple(inside)
            below.extend(inside)
        return numbers, below

    root, _ = children_of(data.get("task_group") or {})
    root += [index[task_id] for task_id in index if task_id not in placed]
    body = json.dumps(
        {
            "dag_id": dag_id,
            "version": version_number,
            "operators": list(operators),
            "tasks": tasks,
            "groups": groups,
            "root": root,
            "edges": edges,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    return GraphDocument(
        dag_id,
        version_id,
        version_number,
        content_hash,
        len(tasks),
        members,
        body,
        gzip.compress(body, compresslevel=6, mtime=0),
    )


def _load(dag_id: str, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise serialization.SerializationError(
            f"stored DAG {dag_id!r} is not valid JSON: {exc}"
        ) from exc
    if not isinstance(data, dict) or data.get("__version") != serialization.SERIALIZATION_VERSION:
        raise serialization.SerializationError(
            f"stored DAG {dag_id!r} is not a serialized DAG of layout version "
            f"{serialization.SERIALIZATION_VERSION}: re-parse the DAG file to store it again"
        )
    return data


@dataclasses.dataclass(frozen=True)
class RunStates:
    """A run's state and, for every task and group with task instances, its state and number
    of mapped instances (0 when not mapped): what the graph and run pages poll."""

    run_id: str
    state: str
    nodes: dict[str, tuple[str | None, int]]


def run_states(session: Session, dag_id: str, run_id: str) -> RunStates:
    """One query for the task instances, no object per row: the graph polls this every few
    seconds, and a run of 5,000 tasks must not cost more than a few milliseconds."""
    state = session.scalar(
        select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
    )
    if state is None:
        return RunStates(run_id, "", {})
    plain: dict[str, str | None] = {}
    mapped: dict[str, list[str | None]] = {}
    for task_id, map_index, ti_state in session.execute(
        select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
        )
    ):
        if map_index >= 0:
            mapped.setdefault(task_id, []).append(ti_state)
        else:
            plain[task_id] = ti_state
    nodes: dict[str, tuple[str | None, int]] = {
        task_id: (ti_state, 0) for task_id, ti_state in plain.items()
    }
    for task_id, states in mapped.items():
        nodes[task_id] = (models_grid.summary_state(states), len(states))
    # A group shows the most urgent state of its tasks' instances (Airflow's priority).
    for group_id, task_ids in graph_for_run(session, dag_id, run_id).group_members.items():
        inside = [nodes[task_id][0] for task_id in task_ids if task_id in nodes]
        if inside:
            nodes[group_id] = (models_grid.summary_state(inside), 0)
    return RunStates(run_id, state, nodes)
