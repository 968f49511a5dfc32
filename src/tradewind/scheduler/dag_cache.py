"""Deserialized DAG versions, kept in memory: versions never change, so caching is safe."""

from __future__ import annotations

import collections
import dataclasses

from sqlalchemy.orm import Session

from tradewind import serialization
from tradewind.db.models import DagVersion
from tradewind.exceptions import DagNotFound
from tradewind.sdk.dag import DAG


@dataclasses.dataclass(frozen=True)
class CachedVersion:
    """One dag_version, deserialized, with what the scheduler derives from it once."""

    version_id: int
    dag: DAG
    fileloc: str
    source_code: str
    priority_weights: dict[str, int]
    leaf_ids: frozenset[str]
    topological_order: tuple[str, ...]
    #: Some task waits for its instance in the previous run (``depends_on_past``).
    depends_on_past: bool = False


class DagVersionCache:
    def __init__(self, max_size: int = 512) -> None:
        self._items: collections.OrderedDict[int, CachedVersion] = collections.OrderedDict()
        self._max_size = max_size
        #: Versions that failed to load since the last ``take_load_errors``, with the error.
        self._load_errors: dict[int, str] = {}
        #: DAGs with a version read so far that has a ``depends_on_past`` task (kept when the
        #: version leaves the cache: it says which DAGs' runs may wait on each other).
        self._past_dependent: set[str] = set()

    def __contains__(self, version_id: object) -> bool:
        return version_id in self._items

    def take_load_errors(self) -> dict[int, str]:
        """The versions that could not be read since the last call (a row that is missing or
        does not deserialize; an error of the database itself is not counted)."""
        errors, self._load_errors = self._load_errors, {}
        return errors

    def may_depend_on_past(self, dag_id: str) -> bool:
        """Whether a version of ``dag_id`` read so far has a task that depends on the past."""
        return dag_id in self._past_dependent

    def get(self, session: Session, version_id: int) -> CachedVersion:
        cached = self._items.get(version_id)
        if cached is not None:
            self._items.move_to_end(version_id)
            return cached
        row = session.get(DagVersion, version_id)
        if row is None:
            self._load_errors[version_id] = "it does not exist"
            raise DagNotFound(f"DAG version {version_id} does not exist")
        try:
            dag = serialization.deserialize_dag(row.serialized_dag)
            cached = CachedVersion(
                version_id=version_id,
                dag=dag,
                fileloc=row.fileloc or dag.fileloc or "",
                source_code=row.source_code or "",
                priority_weights=dag.priority_weights(),
                leaf_ids=frozenset(task.task_id for task in dag.leaves),
                topological_order=tuple(task.task_id for task in dag.topological_sort()),
                depends_on_past=any(task.depends_on_past for task in dag.tasks),
            )
        except Exception as exc:
            self._load_errors[version_id] = f"{type(exc).__name__}: {exc}"
            raise
        self._items[version_id] = cached
        if cached.depends_on_past:
            self._past_dependent.add(dag.dag_id)
        if len(self._items) > self._max_size:
            self._items.popitem(last=False)
        return cached
