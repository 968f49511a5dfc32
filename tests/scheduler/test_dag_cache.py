"""The DAG version cache keeps its working set: versions used lately stay, however many."""

from __future__ import annotations

from sqlalchemy import select

from tradewind.db import engine as db_engine
from tradewind.db.models import DagVersion
from tradewind.scheduler.dag_cache import DagVersionCache

DAG_FILE = """
from datetime import datetime
from tradewind import DAG, EmptyOperator

for i in range(6):
    with DAG(f"cached_{i}", schedule="*/1 * * * *", start_date=datetime(2024, 1, 1)):
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _versions(harness) -> list[int]:
    harness.write("cached.py", DAG_FILE)
    harness.parse()
    return harness.read(lambda s: list(s.scalars(select(DagVersion.id).order_by(DagVersion.id))))


def _loads(harness, cache: DagVersionCache, ids: list[int]) -> int:
    """How many of ``ids`` had to be deserialized (were not in the cache)."""
    missing = [version_id for version_id in ids if version_id not in cache]
    db_engine.run_in_transaction(harness.engine, lambda s: [cache.get(s, v) for v in ids])
    return len(missing)


def test_versions_used_lately_are_kept_beyond_the_size(harness) -> None:
    ids = _versions(harness)
    assert len(ids) == 6
    clock = Clock()
    cache = DagVersionCache(max_size=2, keep_used_for=60.0, clock=clock)
    assert _loads(harness, cache, ids) == 6
    clock.now += 1.0
    # A plain LRU of 2 cycled through 6 versions would miss every time.
    assert _loads(harness, cache, ids) == 0
    assert len(cache) == 6


def test_the_cache_shrinks_to_its_size_once_versions_go_unused(harness) -> None:
    ids = _versions(harness)
    clock = Clock()
    cache = DagVersionCache(max_size=2, keep_used_for=60.0, clock=clock)
    _loads(harness, cache, ids[:5])
    clock.now += 61.0
    assert _loads(harness, cache, ids[:1]) == 0
    assert _loads(harness, cache, ids[5:]) == 1  # a new version: the stale ones go
    assert len(cache) == 2
    assert ids[0] in cache and ids[5] in cache  # the one used again, and the new one
    assert _loads(harness, cache, ids[1:3]) == 2


PAST_FILE = """
from datetime import datetime
from tradewind import DAG, EmptyOperator

with DAG("waits_on_past", schedule=None, start_date=datetime(2024, 1, 1)):
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b", wait_for_downstream=True)
with DAG("independent", schedule=None, start_date=datetime(2024, 1, 1)):
    EmptyOperator(task_id="a")
"""


def test_the_cache_knows_which_dags_depend_on_the_past_after_their_version_leaves(
    harness,
) -> None:
    harness.write("past.py", PAST_FILE)
    harness.parse()
    rows = harness.read(lambda s: list(s.execute(select(DagVersion.id, DagVersion.dag_id))))
    clock = Clock()
    cache = DagVersionCache(max_size=1, keep_used_for=0.0, clock=clock)
    assert not cache.may_depend_on_past("waits_on_past")  # nothing read yet
    loaded = db_engine.run_in_transaction(
        harness.engine, lambda s: {dag_id: cache.get(s, v) for v, dag_id in rows}
    )
    # wait_for_downstream implies depends_on_past, as in Airflow.
    assert loaded["waits_on_past"].depends_on_past
    assert not loaded["independent"].depends_on_past
    assert len(cache) == 1  # one of the two versions left the cache
    assert cache.may_depend_on_past("waits_on_past")
    assert not cache.may_depend_on_past("independent")
