"""Deserialized DAG versions, shared by the services: a version never changes, so it is
deserialized once per process, not on every trigger, pause or API call.

The cache is keyed by (dag_id, content hash), what makes a version what it is, so it is right
whichever metastore the process talks to. The DAGs it returns are shared: callers read them
and must not change them (as with the scheduler's ``DagVersionCache``).
"""

from __future__ import annotations

import collections
import threading

from sqlalchemy.orm import Session

from tradewind import serialization
from tradewind.db.models import DagVersion
from tradewind.sdk.dag import DAG

#: Versions kept (least recently used dropped first).
MAX_SIZE = 32

_lock = threading.Lock()  # the API server answers from several threads
_dags: collections.OrderedDict[tuple[str, str], DAG] = collections.OrderedDict()


def get_version(session: Session, version_id: int) -> DagVersion | None:
    """The version row (every column: callers read it after their session ends)."""
    return session.get(DagVersion, version_id)


def dag_of(version: DagVersion) -> DAG:
    """The DAG of ``version``, deserialized the first time it is asked for."""
    key = (version.dag_id, version.content_hash)
    with _lock:
        dag = _dags.get(key)
        if dag is not None:
            _dags.move_to_end(key)
            return dag
    dag = serialization.deserialize_dag(version.serialized_dag)
    with _lock:
        _dags[key] = dag
        while len(_dags) > MAX_SIZE:
            _dags.popitem(last=False)
    return dag


def clear() -> None:
    """Forget every cached DAG."""
    with _lock:
        _dags.clear()
