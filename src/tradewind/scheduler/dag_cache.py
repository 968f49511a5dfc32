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


class DagVersionCache:
    def __init__(self, max_size: int = 512) -> None:
        self._items: collections.OrderedDict[int, CachedVersion] = collections.OrderedDict()
        self._max_size = max_size

    def get(self, session: Session, version_id: int) -> CachedVersion:
        cached = self._items.get(version_id)
        if cached is not None:
            self._items.move_to_end(version_id)
            return cached
        row = session.get(DagVersion, version_id)
        if row is None:
            raise DagNotFound(f"DAG version {version_id} does not exist")
        dag = serialization.deserialize_dag(row.serialized_dag)
        cached = CachedVersion(
            version_id=version_id,
            dag=dag,
            fileloc=row.fileloc or dag.fileloc or "",
            source_code=row.source_code or "",
            priority_weights=dag.priority_weights(),
            leaf_ids=frozenset(task.task_id for task in dag.leaves),
            topological_order=tuple(task.task_id for task in dag.topological_sort()),
        )
        self._items[version_id] = cached
        if len(self._items) > self._max_size:
            self._items.popitem(last=False)
        return cached
