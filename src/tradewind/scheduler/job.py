"""The scheduler loop: wait for something to happen, then make every decision it allows.

The loop waits in the executor until a task process reports, another process wakes it
(``tradewind.wakeup``) or the earliest known deadline passes; ``scheduler.pass_policy`` decides
from the loop's state when to pass and how long to wait; a pass is one transaction
(``scheduler.scheduler_pass``), after which its tries and DAG callbacks are started.

A killed scheduler loses nothing: every decision is committed before it is acted on, and a
restarted scheduler adopts the tries still running (``scheduler.recovery``). A pass that fails
is logged and tried again with the same events; events that fail every pass, and DAG versions
that cannot be read, are set aside (``scheduler.poison``). Asked to stop (``SchedulerPhase``),
the scheduler starts no more tries but applies the outcomes of those running for up to
``core.shutdown_grace`` seconds; asked again, or once the grace is over, it terminates them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Engine

from tradewind.config import Settings
from tradewind.db import engine as db_engine
from tradewind.executors.base import BaseExecutor, Event, RequestHandler, TaskStarted
from tradewind.scheduler import job_rows, poison
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.scheduler.loop_wait import LoopWaiter
from tradewind.scheduler.pass_policy import (
    LoopConfig,
    LoopState,
    SchedulerPhase,
    Step,
    after_wait,
    drain_end,
    recovery_due,
    wait_seconds,
)
from tradewind.scheduler.scheduler_pass import PassResult, SchedulerPass
from tradewind.sdk import timezone

log = logging.getLogger("tradewind.scheduler")

RECOVERY_EVERY = 10.0
#: Longest a started try waits for a pass to record it as running before it is recorded alone.
START_RECORD_DELAY = 0.1

#: ``(engine, settings, on_runs_changed=..., clock=...) -> RequestHandler``.
RequestHandlerFactory = Callable[..., RequestHandler]


class SchedulerJob:
    """One scheduler process: its job row, its executor, its loop. ``clock`` gives "now" for
    every scheduling decision (inject one in tests)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        executor: BaseExecutor,
        *,
        request_handler: RequestHandlerFactory,
        clock: Any = timezone.utcnow,
    ) -> None:
        """``request_handler`` builds what answers the task processes' requests (XCom,
        variables, connections, triggering a run): ``services.task_requests.TaskRequestHandler``,
        passed in because those operations live above the scheduler."""
        self.settings = settings
        self.engine = engine
        self.executor = executor
        self.clock = clock
        self.cache = DagVersionCache()
        self.config = LoopConfig(
            max_loop_interval=float(settings.get("scheduler", "max_loop_interval")),
            heartbeat_every=float(settings.get("scheduler", "task_heartbeat_interval")),
            poison_attempts=int(settings.get("scheduler", "poison_pass_attempts")),
        )
        self.passes = SchedulerPass.for_settings(self.cache, executor, settings, engine)
        self.unreadable = poison.UnreadableVersions(self.config.poison_attempts)
        self.job_id: int | None = None
        self.handler = request_handler(
            engine, settings, on_runs_changed=self._runs_changed, clock=clock
        )
        #: DAG callbacks that ended, not yet recorded (a failed pass leaves them for the next).
        self._ended_callbacks: list[tuple[str, str]] = []
        self._full_sweep = True
        self._deadline_mono: float | None = None
        self.shutdown_grace = float(settings.get("core", "shutdown_grace"))
        self._phase = SchedulerPhase.STARTING
        self._drain_until = 0.0
        self._drain_noted = False
        self._recover_now = False
        self.waiter = LoopWaiter()

    def _runs_changed(self) -> None:
        self._full_sweep = True

    def run_pass(self, events: list[Event], *, recover: bool = False) -> PassResult:
        """One pass over ``events``; raises when its transaction fails (nothing applied then)."""
        now = self.clock()
        if self.passes.deadline is not None and now >= self.passes.deadline:
            self._full_sweep = True
        full = self._full_sweep
        self._full_sweep = False
        ended = self._ended_callbacks = self._ended_callbacks + self.executor.take_ended_callbacks()
        draining = self._phase is not SchedulerPhase.RUNNING
        set_aside = self.unreadable.due()
        started, started_cpu = time.perf_counter(), time.thread_time()
        try:
            result = db_engine.run_in_transaction(
                self.engine,
                lambda session: self.passes.run(
                    session, events, now, full, recover, ended, draining, set_aside
                ),
            )
        except BaseException:
            self._full_sweep = True
            raise
        finally:
            self.unreadable.note(self.cache.take_load_errors(), self.cache)
        self.unreadable.forget(set_aside)
        log.debug(
            "Pass in %.2f ms, %.2f ms CPU (%s): %d events, %d runs with %d task instances "
            "decided, %d queued",
            (time.perf_counter() - started) * 1000,
            (time.thread_time() - started_cpu) * 1000,
            "full" if full else "events",
            len(events),
            result.runs_decided,
            result.tis_decided,
            len(result.workloads),
        )
        self._ended_callbacks = []
        self.passes.committed(result, recover)
        self._deadline_mono = (
            None
            if result.wake_at is None
            else time.monotonic() + (result.wake_at - now).total_seconds()
        )
        if result.sweep_next:
            self._full_sweep = True
        if not self.passes.act(result):
            self._recover_now = True  # a try could not start: recovery schedules it again
        return result

    @property
    def phase(self) -> SchedulerPhase:
        return self._phase

    def stop(self) -> None:
        """Ask the loop to end (safe to call from a signal handler). The first call starts no
        more tries and lets the running ones finish for up to ``core.shutdown_grace`` seconds;
        a second call (or a grace of 0) ends the loop after the current pass, terminating them."""
        live = (SchedulerPhase.STARTING, SchedulerPhase.RUNNING)
        if self._phase in live and self.shutdown_grace > 0:
            self._drain_until = time.monotonic() + self.shutdown_grace
            self._phase = SchedulerPhase.DRAINING
        elif self._phase is not SchedulerPhase.STOPPED:
            self._phase = SchedulerPhase.STOPPING
        self.waiter.poke()

    def run(
        self, *, max_passes: int | None = None, until: Callable[[], bool] | None = None
    ) -> None:
        """Loop until ``stop()`` (or a signal handler calling it), ``max_passes`` passes, or
        ``until()`` returns true after a pass."""
        kind = self.executor.kind
        self.job_id = self.passes.job_id = db_engine.run_in_transaction(
            self.engine, lambda session: job_rows.register(session, self.clock(), kind)
        )
        log.info("Scheduler job %s started (pid %d)", self.job_id, os.getpid())
        private = self.waiter.open(self.settings.home, self.engine)
        self.executor.start(self.handler, private_fds=private, home=self.settings.home)
        if self._phase is SchedulerPhase.STARTING:
            self._phase = SchedulerPhase.RUNNING
        config = replace(self.config, start_record_delay=START_RECORD_DELAY)
        state = LoopState(last_heartbeat=time.monotonic())
        passes = 0
        events: list[Event] = []
        result: PassResult | None = None
        step = Step.PASS
        try:
            while self._phase is not SchedulerPhase.STOPPING:
                state = replace(state, phase=self._phase, drain_until=self._drain_until)
                if self._phase is SchedulerPhase.DRAINING and self._drain(state):
                    break
                if step in (Step.PASS, Step.SET_ASIDE):
                    if step is Step.SET_ASIDE:
                        kept = poison.set_aside_pending(
                            self.engine,
                            self.cache,
                            events,
                            self.clock,
                            self.passes.outcome_folder,
                            self.passes.log_folder,
                        )
                        self._full_sweep = self._full_sweep or len(kept) < len(events)
                        events = kept
                    now = time.monotonic()
                    recover = recovery_due(replace(state, recover_now=self._recover_now), now)
                    self._recover_now = False
                    failures, next_recovery = state.failures, state.next_recovery
                    try:
                        result = self.run_pass(events, recover=recover)
                    except Exception:
                        failures, result = failures + 1, None
                        log.exception("Scheduler pass failed (%d in a row); trying again", failures)
                    else:
                        failures, events = 0, []
                        if recover:
                            next_recovery = time.monotonic() + RECOVERY_EVERY
                    passes += 1
                    if (max_passes is not None and passes >= max_passes) or (until and until()):
                        break
                    state = replace(
                        state,
                        failures=failures,
                        next_recovery=next_recovery,
                        last_pass=None if result is None else result.outlook(self.clock),
                        just_passed=True,
                        starts_since=None,
                    )
                else:
                    state = replace(state, just_passed=False)
                state = replace(
                    state,
                    phase=self._phase,
                    drain_until=self._drain_until,
                    deadline=self._deadline_mono,
                    running_tries=bool(self.executor.running_ti_ids),
                )
                timeout = wait_seconds(state, config, time.monotonic())
                waited = self.waiter.wait(self.executor, timeout)
                self.executor.answer_requests()  # the tries' questions, outside ``wait``
                events.extend(waited.events)
                if time.monotonic() - state.last_heartbeat >= config.heartbeat_every:
                    try:
                        job_rows.heartbeat(self.engine, self.executor, self.job_id, self.clock)
                    except Exception:
                        log.exception("Scheduler heartbeat failed")
                    state = replace(state, last_heartbeat=time.monotonic())
                state = replace(
                    state,
                    pending=len(events),
                    only_starts=all(isinstance(event, TaskStarted) for event in events),
                    new_events=len(waited.events),
                    woken=waited.woken,
                    woke_early=waited.woke_early,
                    waited=timeout,
                    phase=self._phase,
                    full_sweep=self._full_sweep,
                    recover_now=self._recover_now,
                    deadline=self._deadline_mono,
                    slot_freed=(
                        result is not None
                        and result.waiting_for_slots
                        and self.executor.open_slots > 0
                    ),
                )
                decision = after_wait(state, config, time.monotonic())
                self._full_sweep = self._full_sweep or decision.full_sweep
                state = replace(state, starts_since=decision.starts_since)
                step = decision.step
                if step is Step.RECORD_STARTS:
                    # Tries that only started change no decision: recorded without a pass.
                    try:
                        job_rows.record_started(self.engine, events)
                    except Exception:
                        log.exception("Could not record started tries; the next pass does")
                        step = Step.PASS
                    else:
                        events, step = [], Step.WAIT
                        state = replace(state, starts_since=None)
        finally:
            self._shutdown(events)

    def _drain(self, state: LoopState) -> bool:
        """Whether a draining loop ends now (its tries finished, or the grace is over)."""
        if not self._drain_noted:
            self._drain_noted = True
            log.info(
                "Scheduler stopping: no new tries; waiting up to %g s for %d running task(s) "
                "to finish (stop again to terminate them now)",
                self.shutdown_grace,
                len(self.executor.running_ti_ids),
            )
        busy = self.executor.running_ti_ids or self.executor.running_callback_runs
        end = drain_end(state, time.monotonic(), busy=bool(busy))
        if end == "grace":
            log.warning(
                "Scheduler stopping: the shutdown grace of %g s is over", self.shutdown_grace
            )
        return end is not None

    def _shutdown(self, pending: list[Event]) -> None:
        log.info(
            "Scheduler stopping: terminating %d running task(s)", len(self.executor.running_ti_ids)
        )
        events = pending + self.executor.end()
        try:
            if self.job_id is not None:
                job_rows.finish(self.engine, self.passes, events, self.clock)
        except Exception:
            log.exception("Could not record the end of the running tasks; the next scheduler will")
        finally:
            self.waiter.close()
            self._phase = SchedulerPhase.STOPPED
            log.info("Scheduler stopped")
