"""Where a run's XComs live while tasks run: the contract, and an in-memory store.

The in-memory store backs ``tradewind dags test``; the metastore-backed store implements the
same contract for scheduled runs. Values are kept encoded, so a value that could not be
stored in the metastore fails the same way here.
"""

from __future__ import annotations

import abc
import threading
from typing import Any

from tradewind.runner import xcom_codec

MISSING: Any = object()


class XComStore(abc.ABC):
    """XCom values of one or more runs, keyed by (dag_id, run_id, task_id, map_index, key)."""

    @abc.abstractmethod
    def set(
        self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str, value: Any
    ) -> None:
        """Store ``value`` (replacing an earlier value under the same key)."""

    @abc.abstractmethod
    def get(self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str) -> Any:
        """The value, or ``MISSING``."""

    @abc.abstractmethod
    def get_mapped(self, dag_id: str, run_id: str, task_id: str, key: str) -> list[Any]:
        """Values of every map index of a mapped task, in map-index order (missing ones skipped)."""

    def clear(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> None:
        """Forget a task instance's XComs (before it runs again). By default nothing: a
        store that reads through the parent keeps no earlier try's values."""
        return None


class InMemoryXComStore(XComStore):
    """XComs in a dict; thread-safe."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str, str, int, str], str] = {}
        self._lock = threading.Lock()

    def set(
        self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str, value: Any
    ) -> None:
        encoded = xcom_codec.encode(value, key=key)
        with self._lock:
            self._values[(dag_id, run_id, task_id, map_index, key)] = encoded

    def get(self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str) -> Any:
        with self._lock:
            encoded = self._values.get((dag_id, run_id, task_id, map_index, key))
        return MISSING if encoded is None else xcom_codec.decode(encoded)

    def get_mapped(self, dag_id: str, run_id: str, task_id: str, key: str) -> list[Any]:
        with self._lock:
            found = sorted(
                (k[3], v)
                for k, v in self._values.items()
                if k[0] == dag_id
                and k[1] == run_id
                and k[2] == task_id
                and k[4] == key
                and k[3] >= 0
            )
        return [xcom_codec.decode(v) for _, v in found]

    def clear(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> None:
        with self._lock:
            for k in [k for k in self._values if k[:4] == (dag_id, run_id, task_id, map_index)]:
                del self._values[k]
