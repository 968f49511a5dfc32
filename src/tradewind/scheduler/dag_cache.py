"""Deserialized DAG versions, kept in memory: versions never change, so caching is safe.

The cache holds its working set whatever its size: a version used in the last
``keep_used_for`` seconds is never evicted, so a deployment with more DAGs on a tight schedule
than ``max_size`` does not deserialize every one of them again on every pass (a plain LRU
cycled through more versions than it holds misses every time). Past that, it shrinks back to
``max_size``, least recently used first.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Callable

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
    #: The ``dag_bundle`` remote workers import this version from (None: not stored).
    bundle_hash: str | None = None


#: Seconds a used version stays cached whatever the cache's size.
KEEP_USED_FOR = 600.0


class DagVersionCache:
    def __init__(
        self,
        max_size: int = 512,
        *,
        keep_used_for: float = KEEP_USED_FOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._items: collections.OrderedDict[int, CachedVersion] = collections.OrderedDict()
        #: When each item was last asked for (same order as ``_items``).
        self._used: dict[int, float] = {}
        self._max_size = max_size
        self._keep_used_for = keep_used_for
        self._clock = clock
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
        now = self._clock()
        if cached is not None:
            self._items.move_to_end(version_id)
            self._used[version_id] = now
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
                bundle_hash=row.bundle_hash,
            )
        except Exception as exc:
            self._load_errors[version_id] = f"{type(exc).__name__}: {exc}"
            raise
        self._items[version_id] = cached
        if cached.depends_on_past:
            self._past_dependent.add(dag.dag_id)
        self._used[version_id] = now
        self._evict(now)
        return cached

    def __len__(self) -> int:
        return len(self._items)

    def _evict(self, now: float) -> None:
        """Down to ``max_size``, least recently used first, keeping what was used lately."""
        while len(self._items) > self._max_size:
            oldest = next(iter(self._items))
            if now - self._used[oldest] < self._keep_used_for:
                return
            del self._items[oldest]
            del self._used[oldest]
