"""When the scheduler passes next: the policy's rules as tables over a frozen state and a fake
monotonic clock (plain numbers: nothing sleeps, nothing reads a clock)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tradewind.scheduler.pass_policy import (
    Decision,
    LoopConfig,
    LoopState,
    PassOutlook,
    SchedulerPhase,
    Step,
    after_wait,
    drain_end,
    error_backoff,
    recovery_due,
    wait_seconds,
)

CONFIG = LoopConfig(
    max_loop_interval=5.0, heartbeat_every=5.0, start_record_delay=0.1, poison_attempts=3
)
NOW = 1000.0
#: A quiet loop just after a successful pass: nothing due, recovery far away.
QUIET = LoopState(last_pass=PassOutlook(), next_recovery=NOW + 10, last_heartbeat=NOW)


@pytest.mark.parametrize(
    ("name", "changes", "expected"),
    [
        ("idle: the longest wait", {}, 5.0),
        ("deadline after the pass", {"last_pass": PassOutlook(wake_in=1.5)}, 1.5),
        ("deadline already passed", {"last_pass": PassOutlook(wake_in=-2.0)}, 0.0),
        (
            "deadline between passes: the monotonic one",
            {"last_pass": PassOutlook(wake_in=9.0), "just_passed": False, "deadline": NOW + 2},
            2.0,
        ),
        ("more ready: at once", {"last_pass": PassOutlook(more_ready=True)}, 0.0),
        ("a long cascade left: at once", {"last_pass": PassOutlook(sweep_next=True)}, 0.0),
        ("launched: a moment for the starts", {"last_pass": PassOutlook(launched=True)}, 0.05),
        (
            "launched, but after a skipped pass",
            {"last_pass": PassOutlook(launched=True), "just_passed": False},
            5.0,
        ),
        ("failed once: backoff", {"last_pass": None, "failures": 1}, 1.0),
        ("failed three times", {"last_pass": None, "failures": 3}, 4.0),
        ("failed often: capped", {"last_pass": None, "failures": 50}, 30.0),
        (
            "unrecorded starts wait at most the delay",
            {"just_passed": False, "starts_since": NOW - 0.04},
            0.06,
        ),
        (
            "tries running: beat on time",
            {"running_tries": True, "last_heartbeat": NOW - 4.0},
            1.0,
        ),
        (
            "no tries: no heartbeat limit",
            {"running_tries": False, "last_heartbeat": NOW - 4.0},
            5.0,
        ),
        (
            "draining: not past the grace",
            {"phase": SchedulerPhase.DRAINING, "drain_until": NOW + 0.5},
            0.5,
        ),
    ],
)
def test_wait_seconds(name: str, changes: dict[str, object], expected: float) -> None:
    state = replace(QUIET, **changes)  # type: ignore[arg-type]
    assert wait_seconds(state, CONFIG, NOW) == pytest.approx(expected), name


#: The loop's state after a wait that returned early with nothing (an executor's own wake-up).
WOKE_FOR_NOTHING = replace(QUIET, woke_early=True, waited=5.0)


@pytest.mark.parametrize(
    ("name", "changes", "expected"),
    [
        ("executor's own wake-up: no pass", {}, Decision(Step.WAIT, False, None)),
        ("a try ended", {"pending": 1, "new_events": 1}, Decision(Step.PASS, False, None)),
        (
            "woken by another process: a full pass",
            {"woken": True},
            Decision(Step.PASS, True, None),
        ),
        (
            "idle wait over: a full pass",
            {"woke_early": False},
            Decision(Step.PASS, True, None),
        ),
        (
            "a shorter wait over (a heartbeat): a pass, not full",
            {"woke_early": False, "waited": 1.0},
            Decision(Step.PASS, False, None),
        ),
        ("deadline passed", {"deadline": NOW}, Decision(Step.PASS, False, None)),
        ("deadline ahead", {"deadline": NOW + 1}, Decision(Step.WAIT, False, None)),
        ("recovery due", {"next_recovery": NOW}, Decision(Step.PASS, False, None)),
        (
            "recovery due, but draining",
            {"next_recovery": NOW, "phase": SchedulerPhase.DRAINING},
            Decision(Step.WAIT, False, None),
        ),
        ("a launch failed", {"recover_now": True}, Decision(Step.PASS, False, None)),
        ("a slot freed for waiting work", {"slot_freed": True}, Decision(Step.PASS, False, None)),
        ("the last pass failed", {"failures": 1}, Decision(Step.PASS, False, None)),
        (
            "first start: wait, the clock starts",
            {"pending": 2, "only_starts": True, "new_events": 2},
            Decision(Step.WAIT, False, NOW),
        ),
        (
            "starts younger than the delay: wait",
            {"pending": 2, "only_starts": True, "starts_since": NOW - 0.05},
            Decision(Step.WAIT, False, NOW - 0.05),
        ),
        (
            "starts older than the delay: recorded alone",
            {"pending": 2, "only_starts": True, "starts_since": NOW - 0.1},
            Decision(Step.RECORD_STARTS, False, NOW - 0.1),
        ),
        (
            "starts, and a wake-up: they ride with the pass",
            {"pending": 2, "only_starts": True, "woken": True, "starts_since": NOW},
            Decision(Step.PASS, True, None),
        ),
        (
            "two failures with events: tried again as they are",
            {"failures": 2, "pending": 3},
            Decision(Step.PASS, False, None),
        ),
        (
            "three failures with events: set the poison aside",
            {"failures": 3, "pending": 3},
            Decision(Step.SET_ASIDE, False, None),
        ),
        (
            "four failures: the pass again (no search every time)",
            {"failures": 4, "pending": 3},
            Decision(Step.PASS, False, None),
        ),
        (
            "six failures: search again",
            {"failures": 6, "pending": 3},
            Decision(Step.SET_ASIDE, False, None),
        ),
        (
            "three failures, no events: nothing to set aside",
            {"failures": 3},
            Decision(Step.PASS, False, None),
        ),
    ],
)
def test_after_wait(name: str, changes: dict[str, object], expected: Decision) -> None:
    state = replace(WOKE_FOR_NOTHING, **changes)  # type: ignore[arg-type]
    assert after_wait(state, CONFIG, NOW) == expected, name


@pytest.mark.parametrize(
    ("phase", "next_recovery", "recover_now", "expected"),
    [
        (SchedulerPhase.RUNNING, NOW, False, True),
        (SchedulerPhase.RUNNING, NOW + 1, False, False),
        (SchedulerPhase.RUNNING, NOW + 1, True, True),
        (SchedulerPhase.DRAINING, NOW, True, False),
    ],
)
def test_recovery_due(
    phase: SchedulerPhase, next_recovery: float, recover_now: bool, expected: bool
) -> None:
    state = replace(QUIET, phase=phase, next_recovery=next_recovery, recover_now=recover_now)
    assert recovery_due(state, NOW) is expected


@pytest.mark.parametrize(
    ("phase", "busy", "drain_until", "expected"),
    [
        (SchedulerPhase.RUNNING, True, 0.0, None),
        (SchedulerPhase.DRAINING, False, NOW + 5, "done"),
        (SchedulerPhase.DRAINING, True, NOW + 5, None),
        (SchedulerPhase.DRAINING, True, NOW, "grace"),
    ],
)
def test_drain_end(
    phase: SchedulerPhase, busy: bool, drain_until: float, expected: str | None
) -> None:
    state = replace(QUIET, phase=phase, drain_until=drain_until)
    assert drain_end(state, NOW, busy=busy) == expected


def test_a_loop_of_failing_passes_searches_for_poison_every_few_attempts() -> None:
    """Walk the fake clock through failing passes: backoff grows, the search comes every third."""
    clock, state, steps, waits = NOW, QUIET, [], []
    for failures in range(1, 8):
        state = replace(state, failures=failures, last_pass=None, pending=1, just_passed=True)
        wait = wait_seconds(state, CONFIG, clock)
        waits.append(wait)
        clock += wait
        steps.append(after_wait(replace(state, waited=wait), CONFIG, clock).step)
    assert waits == [error_backoff(n, CONFIG) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert steps == [
        Step.PASS,
        Step.PASS,
        Step.SET_ASIDE,
        Step.PASS,
        Step.PASS,
        Step.SET_ASIDE,
        Step.PASS,
    ]
