"""Trigger rules, table-driven against Airflow's TriggerRuleDep (flag_upstream_failed=True).

Each row gives the states of a task's direct upstream task instances (``None`` = not finished
yet) and what Airflow does with the task: run it, keep it waiting, or settle it without running.
The expectations were written from Airflow's rules, not from our implementation.
"""

from __future__ import annotations

import pytest

from tradewind.scheduler.trigger_rules import UpstreamCounts, Verdict, evaluate
from tradewind.sdk.states import TaskInstanceState as TIS
from tradewind.sdk.trigger_rule import TriggerRule as TR

S, F, SK, UF, RM = "success", "failed", "skipped", "upstream_failed", "removed"
RUN, WAIT, SKIP, UPF, REMOVED = (
    Verdict.RUN,
    Verdict.WAIT,
    Verdict.SKIP,
    Verdict.UPSTREAM_FAILED,
    Verdict.REMOVED,
)

CASES: list[tuple[TR, list[str | None], Verdict]] = [
    # all_success: skips propagate; any failure is upstream_failed, even before the rest finish
    (TR.ALL_SUCCESS, [S, S], RUN),
    (TR.ALL_SUCCESS, [S, None], WAIT),
    (TR.ALL_SUCCESS, [F, None], UPF),
    (TR.ALL_SUCCESS, [UF, S], UPF),
    (TR.ALL_SUCCESS, [SK, S], SKIP),
    (TR.ALL_SUCCESS, [SK, None], SKIP),
    (TR.ALL_SUCCESS, [F, SK], UPF),
    # all_failed
    (TR.ALL_FAILED, [F, UF], RUN),
    (TR.ALL_FAILED, [F, F], RUN),
    (TR.ALL_FAILED, [F, None], WAIT),
    (TR.ALL_FAILED, [F, S], SKIP),
    (TR.ALL_FAILED, [SK, F], SKIP),
    (TR.ALL_FAILED, [S, None], SKIP),
    # all_done: runs whatever the states, once every upstream is finished
    (TR.ALL_DONE, [S, F, SK, UF], RUN),
    (TR.ALL_DONE, [SK, SK], RUN),
    (TR.ALL_DONE, [F, None], WAIT),
    # all_done_min_one_success (Airflow 3.1): a skip skips it, no success is upstream_failed
    (TR.ALL_DONE_MIN_ONE_SUCCESS, [S, F], RUN),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, [S, UF], RUN),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, [S, SK], SKIP),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, [F, UF], UPF),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, [S, None], WAIT),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, [F, None], WAIT),
    # all_skipped
    (TR.ALL_SKIPPED, [SK, SK], RUN),
    (TR.ALL_SKIPPED, [SK, None], WAIT),
    (TR.ALL_SKIPPED, [SK, S], SKIP),
    (TR.ALL_SKIPPED, [SK, F], SKIP),
    (TR.ALL_SKIPPED, [UF, None], SKIP),
    # one_success: runs at the first success, without waiting for the others
    (TR.ONE_SUCCESS, [S, None], RUN),
    (TR.ONE_SUCCESS, [S, F], RUN),
    (TR.ONE_SUCCESS, [F, None], WAIT),
    (TR.ONE_SUCCESS, [SK, SK], SKIP),
    (TR.ONE_SUCCESS, [F, UF], UPF),
    (TR.ONE_SUCCESS, [F, SK], UPF),
    # one_failed: runs at the first failure; skipped when all finished without one
    (TR.ONE_FAILED, [F, None], RUN),
    (TR.ONE_FAILED, [UF, S], RUN),
    (TR.ONE_FAILED, [S, None], WAIT),
    (TR.ONE_FAILED, [S, SK], SKIP),
    (TR.ONE_FAILED, [S, S], SKIP),
    # one_done: one success or failure; skipped and upstream_failed do not count
    (TR.ONE_DONE, [S, None], RUN),
    (TR.ONE_DONE, [F, None], RUN),
    (TR.ONE_DONE, [SK, None], WAIT),
    (TR.ONE_DONE, [SK, UF], SKIP),
    (TR.ONE_DONE, [SK, SK], SKIP),
    # none_failed: skipped counts as fine, even when everything was skipped
    (TR.NONE_FAILED, [S, SK], RUN),
    (TR.NONE_FAILED, [SK, SK], RUN),
    (TR.NONE_FAILED, [S, None], WAIT),
    (TR.NONE_FAILED, [S, F], UPF),
    (TR.NONE_FAILED, [UF, None], UPF),
    # none_failed_min_one_success: the join after a branch
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, [S, SK], RUN),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, [S, S], RUN),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, [SK, SK], SKIP),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, [SK, None], WAIT),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, [SK, F], UPF),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, [UF, S], UPF),
    # none_skipped: failures are fine, a skip is not
    (TR.NONE_SKIPPED, [S, F], RUN),
    (TR.NONE_SKIPPED, [UF, UF], RUN),
    (TR.NONE_SKIPPED, [S, None], WAIT),
    (TR.NONE_SKIPPED, [SK, None], SKIP),
    # always
    (TR.ALWAYS, [None, None], RUN),
    (TR.ALWAYS, [F, SK], RUN),
]


def _id(case: tuple[TR, list[str | None], Verdict]) -> str:
    rule, states, verdict = case
    return f"{rule.value}-{'+'.join(str(s) for s in states)}-{verdict.value}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_rule_against_upstream_states(case: tuple[TR, list[str | None], Verdict]) -> None:
    rule, states, expected = case
    assert evaluate(rule, UpstreamCounts.from_states(states)) is expected
    assert evaluate(rule.value, UpstreamCounts.from_states(states)) is expected


def test_every_rule_has_a_row() -> None:
    assert {rule for rule, _, _ in CASES} == set(TR)


@pytest.mark.parametrize("rule", list(TR))
def test_a_task_without_upstream_always_runs(rule: TR) -> None:
    assert evaluate(rule, UpstreamCounts(total=0)) is RUN


@pytest.mark.parametrize(
    ("states", "map_index", "expected"),
    [
        # a mapped task instance past the number of upstream successes is removed (Airflow)
        ([S, RM], 1, REMOVED),
        ([S, RM], 0, RUN),
        # an unmapped task does not discount removed upstreams
        ([S, RM], -1, WAIT),
    ],
)
def test_all_success_with_removed_upstreams(
    states: list[str], map_index: int, expected: Verdict
) -> None:
    assert (
        evaluate(TR.ALL_SUCCESS, UpstreamCounts.from_states(states), map_index=map_index)
        is expected
    )


def test_counts_from_states_accepts_enums_strings_and_unfinished() -> None:
    counts = UpstreamCounts.from_states(
        [TIS.SUCCESS, "failed", None, TIS.RUNNING, TIS.UP_FOR_RETRY, "skipped"]
    )
    assert counts == UpstreamCounts(total=6, success=1, skipped=1, failed=1)
    assert counts.done == 3


def test_explicit_total_counts_missing_instances_as_unfinished() -> None:
    assert evaluate(TR.ALL_SUCCESS, UpstreamCounts.from_states([S], total=2)) is WAIT


@pytest.mark.parametrize(
    ("verdict", "state"),
    [
        (SKIP, TIS.SKIPPED),
        (UPF, TIS.UPSTREAM_FAILED),
        (REMOVED, TIS.REMOVED),
        (RUN, None),
        (WAIT, None),
    ],
)
def test_settled_state_of_each_verdict(verdict: Verdict, state: TIS | None) -> None:
    assert verdict.settled_state is state


def test_unknown_rule_is_rejected() -> None:
    with pytest.raises(ValueError):
        evaluate("sometimes", UpstreamCounts.from_states([S]))
