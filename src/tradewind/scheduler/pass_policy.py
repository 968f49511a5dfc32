"""When the scheduler passes next: a pure decision over the loop's state and "now".

The loop (``scheduler.job``) keeps what it knows in a frozen ``LoopState`` and asks the policy
three questions: how long it may wait for events (``wait_seconds``), what to do once the wait
is over (``after_wait``: a pass, no pass, record started tries alone, set poison events aside
first), and whether a draining scheduler is done (``drain_end``). Times are monotonic seconds
passed in as ``now``: nothing here reads a clock, sleeps or touches the database, so the rules
are tested with plain tables and a fake clock.

The rules. A pass runs for what can change a decision: a try that ended, a wake-up from
another process, a passed deadline, an idle ``max_loop_interval``, a due recovery, a slot freed
while work waits for one, a failed pass (tried again after a backoff). Tries that only started
change no decision: they ride with the next pass, or are recorded alone after
``start_record_delay``. The executor's own wake-ups (a reaped process, a launcher's reply) bring
no event and run no pass.
"""

from __future__ import annotations

import dataclasses
import enum


class SchedulerPhase(enum.Enum):
    """The life of one scheduler process."""

    #: Registering its job and starting its executor; no pass yet.
    STARTING = "starting"
    #: Starting tries as they become ready.
    RUNNING = "running"
    #: Asked to stop: no new tries; running ones finish (within the grace) and are recorded.
    DRAINING = "draining"
    #: Stopping now: tries still running are terminated and recorded failed.
    STOPPING = "stopping"
    #: The loop has ended and its job is recorded finished.
    STOPPED = "stopped"


class Step(enum.Enum):
    """What the loop does once a wait is over."""

    PASS = "pass"
    #: Passes failed ``poison_attempts`` times in a row with events pending: set aside the
    #: events that fail on their own, then pass.
    SET_ASIDE = "set_aside"
    #: Nothing that changes a decision: wait again.
    WAIT = "wait"
    #: Only started tries, for ``start_record_delay``: record them without a pass, wait again.
    RECORD_STARTS = "record_starts"


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    max_loop_interval: float = 5.0
    heartbeat_every: float = 5.0
    #: Longest a started try waits for a pass to record it as running before it is recorded alone.
    start_record_delay: float = 0.1
    #: Longest pause after a failed pass.
    max_error_backoff: float = 30.0
    #: Failed passes in a row after which the pending events are tried one by one.
    poison_attempts: int = 3


@dataclasses.dataclass(frozen=True)
class PassOutlook:
    """What the last successful pass left for the wait after it."""

    #: Seconds from the end of the pass to the earliest deadline it knows (None: none).
    wake_in: float | None = None
    #: It queued as many tries as there were slots: more may be ready.
    more_ready: bool = False
    #: It left runs for the next pass (a long cascade).
    sweep_next: bool = False
    #: It launched tries (their start is worth waiting a moment for).
    launched: bool = False


@dataclasses.dataclass(frozen=True)
class LoopState:
    """What the loop knows between two waits. Monotonic seconds throughout."""

    phase: SchedulerPhase = SchedulerPhase.RUNNING
    #: Passes failed in a row.
    failures: int = 0
    #: The last successful pass; None when the last pass failed (or none ran yet).
    last_pass: PassOutlook | None = None
    #: A pass ran just before this wait (else the loop waits again after a skipped pass).
    just_passed: bool = True
    #: Events waiting for a pass, and whether all of them are starts.
    pending: int = 0
    only_starts: bool = False
    #: When the oldest start not yet recorded arrived.
    starts_since: float | None = None
    #: What the last wait brought: events, a wake-up from another process, an early return.
    new_events: int = 0
    woken: bool = False
    woke_early: bool = False
    #: How long the last wait could last.
    waited: float = 0.0
    #: Something asked for a pass over every running run.
    full_sweep: bool = False
    #: The earliest known deadline (a due run, a retry, a timeout).
    deadline: float | None = None
    next_recovery: float = 0.0
    recover_now: bool = False
    running_tries: bool = False
    last_heartbeat: float = 0.0
    drain_until: float = 0.0
    #: The last pass left work waiting for a slot, and a slot is free now.
    slot_freed: bool = False


@dataclasses.dataclass(frozen=True)
class Decision:
    step: Step
    #: The next pass looks at every running run.
    full_sweep: bool
    #: When the oldest unrecorded start arrived (None: there is none).
    starts_since: float | None


def error_backoff(failures: int, config: LoopConfig) -> float:
    return min(config.max_error_backoff, 0.5 * 2 ** min(failures, 6))


def wait_seconds(state: LoopState, config: LoopConfig, now: float) -> float:
    """How long to wait for events: until the next deadline, the next heartbeat or the end of
    the grace, at most ``max_loop_interval``; not at all when more work is ready."""
    outlook = state.last_pass
    if outlook is None:
        timeout = error_backoff(state.failures, config)
    else:
        timeout = config.max_loop_interval
        if outlook.wake_in is not None:
            if state.just_passed:
                timeout = min(timeout, max(0.0, outlook.wake_in))
            elif state.deadline is not None:
                timeout = min(timeout, max(0.0, state.deadline - now))
        if outlook.more_ready or outlook.sweep_next:
            timeout = 0.0
        elif outlook.launched and state.just_passed:
            timeout = min(timeout, 0.05)
    if not state.just_passed and state.starts_since is not None:
        timeout = min(timeout, max(0.0, state.starts_since + config.start_record_delay - now))
    if state.running_tries:  # beat on time for the tries it runs
        timeout = min(timeout, max(0.0, state.last_heartbeat + config.heartbeat_every - now))
    if state.phase is SchedulerPhase.DRAINING:
        timeout = min(timeout, max(0.0, state.drain_until - now))
    return timeout


def recovery_due(state: LoopState, now: float) -> bool:
    """Whether the next pass repairs orphans too (never while stopping)."""
    return (now >= state.next_recovery or state.recover_now) and (
        state.phase is SchedulerPhase.RUNNING
    )


def after_wait(state: LoopState, config: LoopConfig, now: float) -> Decision:
    """What to do now that the wait is over."""
    idle = (
        not state.new_events
        and not state.woken
        and not state.woke_early
        and state.waited >= config.max_loop_interval
    )
    full = state.full_sweep or state.woken or idle
    pass_due = (
        state.failures > 0
        or full
        or state.recover_now
        or (now >= state.next_recovery and state.phase is SchedulerPhase.RUNNING)
        or (state.deadline is not None and now >= state.deadline)
    )
    if not pass_due and not state.pending and state.woke_early and not state.slot_freed:
        return Decision(Step.WAIT, full, state.starts_since)
    if not pass_due and state.pending and state.only_starts:
        if state.starts_since is None:
            return Decision(Step.WAIT, full, now)
        if now - state.starts_since >= config.start_record_delay:
            return Decision(Step.RECORD_STARTS, full, state.starts_since)
        return Decision(Step.WAIT, full, state.starts_since)
    poisoned = (
        state.pending > 0
        and state.failures > 0
        and state.failures % max(1, config.poison_attempts) == 0
    )
    return Decision(Step.SET_ASIDE if poisoned else Step.PASS, full, None)


def drain_end(state: LoopState, now: float, *, busy: bool) -> str | None:
    """Why a draining loop ends now: ``"done"`` (nothing of its own runs any more) or
    ``"grace"`` (the shutdown grace is over); None while it goes on (or is not draining)."""
    if state.phase is not SchedulerPhase.DRAINING:
        return None
    if not busy:
        return "done"
    if now >= state.drain_until:
        return "grace"
    return None
