"""Which scheduled task instances start now: a pure function of candidates and capacity.

Candidates come highest priority first (then the longest waiting, then map index); each is
queued unless a limit holds it back: the executor's free slots (``core.parallelism``), its
run's ``max_active_tasks``, its pool's free slots, its task's ``max_active_tis_per_dag``.
A held-back instance waits without blocking lower-priority ones. ``queueing`` reads the
candidates a page at a time and hands each page here with what the earlier pages left.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence

RunKey = tuple[str, str]  # (dag_id, run_id)
TaskKey = tuple[str, str]  # (dag_id, task_id)


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate:
    """A scheduled task instance, with the limits of its run and task."""

    id: int
    run_key: RunKey
    task_key: TaskKey
    pool: str
    pool_slots: int
    #: Its run is running and its DAG version could be read.
    runnable: bool = True
    #: Its task is still in the DAG (if not, the instance is removed).
    task_exists: bool = True
    max_active_tasks: int = 16
    max_active_tis_per_dag: int | None = None


@dataclasses.dataclass(frozen=True)
class Capacity:
    """What may still start: executor slots, pool sizes and use, active instances."""

    slots: int
    #: Slots of each pool (below zero: unlimited). A pool not listed does not exist.
    pools: Mapping[str, int]
    pool_used: Mapping[str, int] = dataclasses.field(default_factory=dict)
    #: Queued and running instances per run.
    run_active: Mapping[RunKey, int] = dataclasses.field(default_factory=dict)
    #: Queued and running instances per task; needed only for tasks with a per-task limit.
    task_active: Mapping[TaskKey, int] | None = None
    #: Held back until the next pass: later pages leave these out.
    full_pools: frozenset[str] = frozenset()
    full_runs: frozenset[RunKey] = frozenset()


@dataclasses.dataclass(frozen=True)
class Choice:
    to_queue: tuple[Candidate, ...]
    #: Instances whose task left the DAG.
    removed: tuple[int, ...]
    #: Every candidate looked at (the rest were not reached: the slots ran out).
    seen: tuple[int, ...]
    #: Pools asked for that do not exist, with the first task asking for each.
    missing_pools: Mapping[str, TaskKey]
    #: What is left for the next page.
    capacity: Capacity


def needs_task_active(candidates: Sequence[Candidate]) -> bool:
    """Whether choosing among ``candidates`` needs the active instances per task."""
    return any(candidate.max_active_tis_per_dag for candidate in candidates)


def choose(candidates: Sequence[Candidate], capacity: Capacity) -> Choice:
    """The candidates to queue, in order, within ``capacity``."""
    pool_used = Counter(capacity.pool_used)
    run_active = Counter(capacity.run_active)
    task_active = None if capacity.task_active is None else Counter(capacity.task_active)
    full_pools = set(capacity.full_pools)
    full_runs = set(capacity.full_runs)
    to_queue: list[Candidate] = []
    removed: list[int] = []
    seen: list[int] = []
    missing: dict[str, TaskKey] = {}
    slots = capacity.slots
    for candidate in candidates:
        if len(to_queue) >= slots:
            break
        seen.append(candidate.id)
        run_key, pool = candidate.run_key, candidate.pool
        if pool in full_pools or run_key in full_runs:
            continue
        if not candidate.runnable:
            full_runs.add(run_key)
            continue
        if not candidate.task_exists:
            removed.append(candidate.id)
            continue
        if run_active[run_key] >= candidate.max_active_tasks:
            full_runs.add(run_key)
            continue
        size = capacity.pools.get(pool)
        if size is None:
            missing.setdefault(pool, candidate.task_key)
            full_pools.add(pool)
            continue
        if size >= 0 and pool_used[pool] + candidate.pool_slots > size:
            if pool_used[pool] >= size:
                full_pools.add(pool)
            continue
        limit = candidate.max_active_tis_per_dag
        if limit:
            if task_active is None:
                raise ValueError("choose() needs task_active for a task with a per-task limit")
            if task_active[candidate.task_key] >= limit:
                continue
        if task_active is not None:
            task_active[candidate.task_key] += 1
        to_queue.append(candidate)
        run_active[run_key] += 1
        pool_used[pool] += candidate.pool_slots
    left = dataclasses.replace(
        capacity,
        slots=slots - len(to_queue),
        pool_used=pool_used,
        run_active=run_active,
        task_active=task_active,
        full_pools=frozenset(full_pools),
        full_runs=frozenset(full_runs),
    )
    return Choice(tuple(to_queue), tuple(removed), tuple(seen), missing, left)
