"""``queue_policy.choose``: which scheduled instances start, table-driven, no database.

Candidates are given highest priority first, as the queueing query reads them; a candidate a
limit holds back never blocks the ones after it.
"""

from __future__ import annotations

import pytest

from tradewind.scheduler.queue_policy import Candidate, Capacity, choose

RUN_A, RUN_B = ("d", "a"), ("d", "b")


def cand(
    ti_id: int,
    *,
    run: tuple[str, str] = RUN_A,
    task: str | None = None,
    pool: str = "default_pool",
    slots: int = 1,
    max_active_tasks: int = 16,
    per_task: int | None = None,
    runnable: bool = True,
    exists: bool = True,
) -> Candidate:
    return Candidate(
        ti_id,
        run,
        (run[0], task or f"t{ti_id}"),
        pool,
        slots,
        runnable=runnable,
        task_exists=exists,
        max_active_tasks=max_active_tasks,
        max_active_tis_per_dag=per_task,
    )


POOLS = {"default_pool": 128, "db": 2, "unlimited": -1}


@pytest.mark.parametrize(
    ("candidates", "capacity", "queued"),
    [
        # executor slots: the first ones in priority order
        ([cand(1), cand(2), cand(3)], Capacity(2, POOLS), [1, 2]),
        ([cand(1), cand(2)], Capacity(0, POOLS), []),
        # a full pool holds back its instances only
        (
            [cand(1, pool="db"), cand(2, pool="db"), cand(3, pool="db"), cand(4)],
            Capacity(8, POOLS),
            [1, 2, 4],
        ),
        ([cand(1, pool="db"), cand(2)], Capacity(8, POOLS, pool_used={"db": 2}), [2]),
        # an instance needing more slots than are free waits; a smaller one still fits
        ([cand(1, pool="db", slots=2), cand(2, pool="db")], Capacity(8, POOLS, {"db": 1}), [2]),
        ([cand(1, pool="unlimited", slots=500)], Capacity(8, POOLS), [1]),
        # a pool that does not exist holds its instances back
        ([cand(1, pool="nope"), cand(2)], Capacity(8, POOLS), [2]),
        # max_active_tasks per run, counting what is already active
        (
            [cand(1, max_active_tasks=2), cand(2, max_active_tasks=2), cand(3, run=RUN_B)],
            Capacity(8, POOLS, run_active={RUN_A: 1}),
            [1, 3],
        ),
        # max_active_tis_per_dag per task, across runs
        (
            [
                cand(1, task="t", per_task=2),
                cand(2, task="t", per_task=2, run=RUN_B),
                cand(3, task="t", per_task=2),
                cand(4),
            ],
            Capacity(8, POOLS, task_active={("d", "t"): 1}),
            [1, 4],
        ),
        # a run that is not running (or whose DAG cannot be read) holds back all its instances
        ([cand(1, runnable=False), cand(2), cand(3, run=RUN_B)], Capacity(8, POOLS), [3]),
        ([cand(1, exists=False), cand(2)], Capacity(8, POOLS), [2]),
    ],
)
def test_choose(candidates: list[Candidate], capacity: Capacity, queued: list[int]) -> None:
    assert [c.id for c in choose(candidates, capacity).to_queue] == queued


def test_what_is_held_back_is_left_out_of_the_next_page() -> None:
    choice = choose(
        [cand(1, pool="db", slots=2), cand(2, runnable=False, run=RUN_B), cand(3, pool="nope")],
        Capacity(8, POOLS, pool_used={"db": 2}),
    )
    assert choice.capacity.full_pools == {"db", "nope"}
    assert choice.capacity.full_runs == {RUN_B}
    assert dict(choice.missing_pools) == {"nope": ("d", "t3")}


def test_the_capacity_left_counts_what_was_queued() -> None:
    choice = choose(
        [cand(1, pool="db", task="t", per_task=5), cand(2, pool="db", slots=1)],
        Capacity(5, POOLS, task_active={}),
    )
    left = choice.capacity
    assert left.slots == 3 and left.pool_used["db"] == 2 and left.run_active[RUN_A] == 2
    assert left.task_active is not None and left.task_active[("d", "t")] == 1
    # the pool is full now: a next page leaves it out
    assert choose([cand(3, pool="db")], left).to_queue == ()


def test_candidates_after_the_last_slot_are_not_seen() -> None:
    choice = choose([cand(1), cand(2, pool="nope"), cand(3)], Capacity(1, POOLS))
    assert choice.seen == (1,) and not choice.missing_pools


def test_removed_tasks_are_reported() -> None:
    assert choose([cand(1, exists=False)], Capacity(4, POOLS)).removed == (1,)


def test_a_per_task_limit_needs_the_active_counts() -> None:
    with pytest.raises(ValueError, match="task_active"):
        choose([cand(1, per_task=1)], Capacity(4, POOLS))
