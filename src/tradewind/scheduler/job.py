"""The scheduler loop: wait for something to happen, then make every decision it allows.

The loop sleeps in the executor's ``wait`` until a task process reports, another process
wakes it (``tradewind.wakeup``), or the earliest known deadline passes (a due run, a retry, a
reschedule, a ``dagrun_timeout``). Each pass is one transaction: apply task outcomes, repair
orphans (now and then), create and start runs, decide task states, finish runs, queue ready
tasks; then the queued tasks and the DAG callbacks of finished runs are started.

Most passes look only at the runs an event touched; a pass after a wake-up from outside, a
passed deadline or an idle interval looks at every running run ("full sweep"). Only a full
pass asks the metastore when runs fall due and retries wait; other passes keep what the last
one learned (a new due time comes with a wake-up or a passed deadline, which make the next
pass full). A pass runs for something that can change a decision: a try that ended, a
wake-up, a deadline, a slot freed while work waits for one. Tries that only started are
recorded with the next pass (or alone after ``START_RECORD_DELAY``), and the executor's own
wake-ups (a reaped process, a launcher's reply) run none.

A killed scheduler loses nothing: every decision is committed before it is acted on, a task
process writes its outcome to a file before reporting it, tries outlive their scheduler, and a
restarted scheduler adopts the tries still running and repairs what the dead one left
(``scheduler.recovery``). A pass that fails (the database is away, say) is logged and tried
again with the same events; the loop does not die of it.

A stop costs no healthy work either (``SchedulerPhase``): asked to stop (SIGTERM, Ctrl-C), the
scheduler starts no more tries but goes on applying the outcomes of those running for up to
``core.shutdown_grace`` seconds; asked again, or once the grace is over, it terminates the
tries still running and records them failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind import wakeup
from tradewind.config import Settings
from tradewind.db import engine as db_engine
from tradewind.db.models import Dag, DagRun, Job, JobState, JobType, TaskInstance
from tradewind.executors.base import BaseExecutor, Event, RequestHandler, TaskFinished, TaskStarted
from tradewind.runner.workload import CallbackWorkload, TaskWorkload
from tradewind.scheduler import (
    backfill_progress,
    dag_callbacks,
    outcomes,
    queueing,
    recovery,
    run_lifecycle,
    task_scheduling,
)
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.sdk import timezone
from tradewind.sdk.states import DagRunState
from tradewind.sdk.states import TaskInstanceState as TIS

log = logging.getLogger("tradewind.scheduler")

RECOVERY_EVERY = 10.0
#: Longest a started try waits for a pass to record it as running before it is recorded alone.
START_RECORD_DELAY = 0.1
#: Runs started in one pass because others finished, at most (the rest wait one more pass).
MAX_CASCADE = 50
#: Longest pause after a failed pass.
MAX_ERROR_BACKOFF = 30.0


#: ``(engine, settings, on_runs_changed=..., clock=...) -> RequestHandler``.
RequestHandlerFactory = Callable[..., RequestHandler]

# Statements of every pass, built once (building one costs about as much as running it).
_RUNNING_RUNS = select(DagRun).where(DagRun.state == DagRunState.RUNNING.value)
_RUNNING_RUNS_OF = _RUNNING_RUNS.where(DagRun.dag_id.in_(bindparam("dag_ids", expanding=True)))
_ANY_SCHEDULED = select(TaskInstance.id).where(TaskInstance.state == TIS.SCHEDULED.value).limit(1)


class SchedulerPhase(enum.Enum):
    #: Starting tries as they become ready.
    RUNNING = "running"
    #: Asked to stop: no new tries; running ones finish (within the grace) and are recorded.
    DRAINING = "draining"
    #: Stopping now: tries still running are terminated and recorded failed.
    STOPPING = "stopping"


@dataclasses.dataclass
class PassResult:
    workloads: list[TaskWorkload]
    to_terminate: list[int]
    wake_at: datetime | None
    more_ready: bool
    callbacks: list[CallbackWorkload] = dataclasses.field(default_factory=list)
    files_done: list[Path] = dataclasses.field(default_factory=list)
    sweep_next: bool = False
    #: Scheduled instances wait for a free executor slot: a try ending calls for a pass.
    waiting_for_slots: bool = False


class SchedulerJob:
    """One scheduler process: its job row, its executor, its loop.

    ``clock`` gives "now" for every scheduling decision (inject one in tests).
    """

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
        self.log_folder = settings.log_folder
        self.outcome_folder = settings.home / "outcomes"
        self.heartbeat_timeout = float(settings.get("scheduler", "heartbeat_timeout"))
        self.max_loop_interval = float(settings.get("scheduler", "max_loop_interval"))
        self.heartbeat_every = float(settings.get("scheduler", "task_heartbeat_interval"))
        self.is_postgres = engine.dialect.name == "postgresql"
        self.job_id: int | None = None
        self.handler = request_handler(
            engine, settings, on_runs_changed=self._runs_changed, clock=clock
        )
        self._dirty: set[tuple[str, str]] = set()
        #: DAG callbacks that ended, not yet recorded (a failed pass leaves them for the next).
        self._ended_callbacks: list[tuple[str, str]] = []
        self._full_sweep = True
        self._deadline: datetime | None = None
        self._deadline_mono: float | None = None
        #: When the next DAG run falls due (known from the last full pass or run creation).
        self._dagrun_due: datetime | None = None
        self.shutdown_grace = float(settings.get("core", "shutdown_grace"))
        self._phase = SchedulerPhase.RUNNING
        self._drain_until = 0.0
        self._first_recovery = True
        self._recover_now = False
        self._run_timeouts: dict[int, datetime] = {}
        # stop() (often from a signal handler) writes here to end the current wait at once.
        self._stop_reader: socket.socket | None = None
        self._stop_writer: socket.socket | None = None

    def _runs_changed(self) -> None:
        self._full_sweep = True

    # -- setup ------------------------------------------------------------------------------
    def _register(self) -> None:
        def register(session: Session) -> int:
            job = Job(
                job_type=JobType.SCHEDULER.value,
                state=JobState.RUNNING.value,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                latest_heartbeat=self.clock(),
            )
            session.add(job)
            session.flush()
            return job.id

        self.job_id = db_engine.run_in_transaction(self.engine, register)
        log.info("Scheduler job %s started (pid %d)", self.job_id, os.getpid())

    def _heartbeat(self) -> None:
        """Beat for this job and the tries it runs; stop tries whose task instance was changed
        from outside (marked failed or success, cleared) while they ran, as Airflow does."""
        running = sorted(self.executor.running_ti_ids)

        def beat(session: Session) -> tuple[list[int], list[int]]:
            now = self.clock()
            job = session.get(Job, self.job_id)
            if job is not None:
                job.latest_heartbeat = now
                job.state = JobState.RUNNING.value
            stale: list[int] = []
            taken: list[int] = []
            for start in range(0, len(running), 500):
                chunk = running[start : start + 500]
                rows = session.execute(
                    select(
                        TaskInstance.id, TaskInstance.state, TaskInstance.queued_by_job_id
                    ).where(TaskInstance.id.in_(chunk))
                ).all()
                for ti_id, state, owner in rows:
                    if state not in (TIS.QUEUED.value, TIS.RUNNING.value):
                        stale.append(ti_id)
                    elif owner != self.job_id:
                        taken.append(ti_id)
                session.query(TaskInstance).filter(TaskInstance.id.in_(chunk)).update(
                    {TaskInstance.last_heartbeat_at: now}, synchronize_session=False
                )
            return stale, taken

        stale, taken = db_engine.run_in_transaction(self.engine, beat)
        for ti_id in stale:
            log.warning(
                "Task instance %s was changed from outside while it ran: stopping its process",
                ti_id,
            )
            self.executor.terminate(ti_id)
        for ti_id in taken:  # another scheduler took this job for dead and adopted the try
            self.executor.release(ti_id)

    # -- one pass -------------------------------------------------------------------------
    def _running_runs(self, session: Session, full: bool, extra: list[DagRun]) -> list[DagRun]:
        if full:
            runs = list(session.scalars(_RUNNING_RUNS))
        else:
            keys = self._dirty | {(run.dag_id, run.run_id) for run in extra}
            if not keys:
                return []
            # Every running run of a touched DAG: a run waiting on depends_on_past moves when
            # the previous run's task finishes.
            runs = list(
                session.scalars(_RUNNING_RUNS_OF, {"dag_ids": sorted({key[0] for key in keys})})
            )
        if self.is_postgres and runs:
            runs = list(
                session.scalars(
                    select(DagRun)
                    .where(DagRun.id.in_([run.id for run in runs]))
                    .with_for_update(skip_locked=True)
                )
            )
        return runs

    def _pass(
        self,
        session: Session,
        events: list[Event],
        now: datetime,
        full: bool,
        recover: bool,
        ended_callbacks: list[tuple[str, str]],
        draining: bool,
    ) -> PassResult:
        files_done: list[Path] = []
        stop: list[int] = []
        adopted: list[CallbackWorkload] = []
        touched = outcomes.apply_events(session, self.cache, events, now, self.log_folder, stop)
        dag_callbacks.settle_ended(session, ended_callbacks, job_id=self.job_id)
        for event in events:
            if isinstance(event, TaskFinished) and isinstance(event.message.get("try_number"), int):
                files_done.append(
                    outcomes.outcome_path(
                        self.outcome_folder, event.ti_id, event.message["try_number"]
                    )
                )
        if recover:
            repaired = recovery.reset_orphans(
                session,
                self.cache,
                my_job_id=self.job_id or 0,
                now=now,
                timeout=self.heartbeat_timeout,
                executor=self.executor,
                log_folder=self.log_folder,
                outcome_folder=self.outcome_folder,
                sweep_outcome_files=self._first_recovery,
            )
            touched |= repaired.touched
            files_done.extend(repaired.files_done)
            full = full or repaired.fixed > 0
            adopted = dag_callbacks.adopt_owed(
                session,
                self.cache,
                job_id=self.job_id,
                log_folder=self.log_folder,
                running_here=self.executor.running_callback_runs,
            )
        self._dirty |= touched
        pg = self.is_postgres
        # Runs fall due, and queued runs become startable, only with time (a passed deadline
        # makes this pass full), from outside (a wake-up: full too) or when a run finishes
        # (the cascade below).
        created = (
            run_lifecycle.create_due_runs(session, self.cache, now, for_update=pg) if full else []
        )
        created_any = bool(created)
        started = (
            run_lifecycle.start_queued_runs(session, self.cache, now, for_update=pg)
            if (created or full)
            else []
        )
        runs = self._running_runs(session, full, started)
        evaluation = task_scheduling.evaluate_runs(session, self.cache, runs, now)
        finished = list(evaluation.finished_runs)
        evaluated = list(runs)
        cascade = 0
        sweep_next = False
        while finished:
            # Finished runs free max_active_runs slots: the next due or queued runs start now.
            created_any |= bool(
                run_lifecycle.create_due_runs(session, self.cache, now, for_update=pg)
            )
            more = run_lifecycle.start_queued_runs(session, self.cache, now, for_update=pg)
            if not more:
                break
            cascade += len(more)
            if cascade > MAX_CASCADE:
                sweep_next = True
                break
            evaluated.extend(more)
            step = task_scheduling.evaluate_runs(session, self.cache, more, now)
            evaluation.merge(step)
            finished = step.finished_runs
        self._note_run_timeouts(session, evaluated)
        if full or any(run.backfill_id is not None for run, _ in evaluation.finished_runs):
            backfill_progress.refresh_all(session, now)
        callbacks = adopted + dag_callbacks.owed_by_finished_runs(
            session, self.cache, evaluation, job_id=self.job_id, log_folder=self.log_folder
        )
        slots = 0 if draining else self.executor.open_slots
        workloads = queueing.queue_ready(
            session,
            self.cache,
            slots=slots,
            now=now,
            job_id=self.job_id,
            log_folder=self.log_folder,
            for_update=pg,
            outcome_folder=self.outcome_folder,
            known_runs=evaluated,
        )
        more_ready = len(workloads) >= slots > 0
        waiting_for_slots = (
            not draining and slots <= 0 and session.scalar(_ANY_SCHEDULED) is not None
        )
        wake_at = (
            evaluation.wake_at
            if evaluation.wake_at is not None and evaluation.wake_at > now
            else None
        )
        if full or created_any:
            self._dagrun_due = self._next_dagrun_due(session, now)
        if full:
            # Every running run was looked at: retries anywhere, from the metastore.
            retry_due = self._next_retry_due(session, now)
        else:
            # Only some runs were: what earlier passes asked to be woken for still stands (when
            # it passes, that pass is full and finds everything again).
            retry_due = (
                self._deadline if self._deadline is not None and self._deadline > now else None
            )
        dagrun_due = (
            self._dagrun_due if self._dagrun_due is not None and self._dagrun_due > now else None
        )
        timeout_due = min((at for at in self._run_timeouts.values() if at > now), default=None)
        for candidate in (dagrun_due, retry_due, timeout_due):
            if candidate is not None and (wake_at is None or candidate < wake_at):
                wake_at = candidate
        return PassResult(
            workloads,
            stop + evaluation.to_terminate,
            wake_at,
            more_ready,
            callbacks,
            files_done,
            sweep_next,
            waiting_for_slots,
        )

    def _note_run_timeouts(self, session: Session, runs: list[DagRun]) -> None:
        """Remember when each running run hits its dagrun_timeout, so a pass that does not look
        at the run still wakes the scheduler in time."""
        for run in runs:
            timeout = None
            if (
                run.state == DagRunState.RUNNING.value
                and run.start_date is not None
                and run.dag_version_id is not None
            ):
                try:
                    timeout = self.cache.get(session, run.dag_version_id).dag.dagrun_timeout
                except Exception:
                    timeout = None
            if timeout is None or run.start_date is None:
                self._run_timeouts.pop(run.id, None)
            else:
                self._run_timeouts[run.id] = run.start_date + timeout

    @staticmethod
    def _next_dagrun_due(session: Session, now: datetime) -> datetime | None:
        """The next time a DAG's next run falls due. Times already past are left out: those DAGs
        are at max_active_runs, and a finishing run lets them go on."""
        return session.scalar(
            select(func.min(Dag.next_dagrun_create_after)).where(
                Dag.is_paused.is_(False),
                Dag.is_active.is_(True),
                Dag.next_dagrun_create_after > now,
            )
        )

    @staticmethod
    def _next_retry_due(session: Session, now: datetime) -> datetime | None:
        """The next future retry or reschedule time."""
        retry_at = session.scalar(
            select(func.min(TaskInstance.next_retry_at)).where(
                TaskInstance.state == TIS.UP_FOR_RETRY.value, TaskInstance.next_retry_at > now
            )
        )
        resched_at = session.scalar(
            select(func.min(TaskInstance.reschedule_date)).where(
                TaskInstance.state == TIS.UP_FOR_RESCHEDULE.value,
                TaskInstance.reschedule_date > now,
            )
        )
        values = [value for value in (retry_at, resched_at) if value is not None]
        return min(values) if values else None

    def run_pass(self, events: list[Event], *, recover: bool = False) -> PassResult:
        """One pass over ``events``; raises when its
        transaction fails (nothing was applied then)."""
        now = self.clock()
        if self._deadline is not None and now >= self._deadline:
            self._full_sweep = True
        full = self._full_sweep
        self._full_sweep = False
        ended_callbacks = self._ended_callbacks = (
            self._ended_callbacks + self.executor.take_ended_callbacks()
        )
        draining = self._phase is not SchedulerPhase.RUNNING
        try:
            result = db_engine.run_in_transaction(
                self.engine,
                lambda session: self._pass(
                    session, events, now, full, recover, ended_callbacks, draining
                ),
            )
        except BaseException:
            self._full_sweep = True
            raise
        self._ended_callbacks = []
        self._dirty.clear()
        self._first_recovery = self._first_recovery and not recover
        self._deadline = result.wake_at
        self._deadline_mono = (
            None
            if result.wake_at is None
            else time.monotonic() + (result.wake_at - now).total_seconds()
        )
        if result.sweep_next:
            self._full_sweep = True
        outcomes.remove_outcome_files(result.files_done)
        for ti_id in result.to_terminate:
            self.executor.terminate(ti_id)
        for workload in result.workloads:
            try:
                self.executor.launch(workload)
            except Exception:  # fork failed (no memory, too many processes): recovery re-queues it
                log.exception("Could not start %s; it will be scheduled again", workload.describe())
                self._recover_now = True
        for callback in result.callbacks:
            try:
                self.executor.launch_callback(callback)
            except Exception:  # a callback that cannot start must not stop the scheduler
                log.exception("Could not start the %s", callback.describe())
        return result

    # -- the loop -------------------------------------------------------------------------
    @property
    def phase(self) -> SchedulerPhase:
        return self._phase

    def stop(self) -> None:
        """Ask the loop to end (safe to call from a signal handler). The first call starts no
        more tries and lets the running ones finish for up to ``core.shutdown_grace`` seconds;
        a second call (or a grace of 0) ends the loop after the current pass, terminating them."""
        if self._phase is SchedulerPhase.RUNNING and self.shutdown_grace > 0:
            self._drain_until = time.monotonic() + self.shutdown_grace
            self._phase = SchedulerPhase.DRAINING
        else:
            self._phase = SchedulerPhase.STOPPING
        writer = self._stop_writer
        if writer is not None:
            with contextlib.suppress(OSError):
                writer.send(b"!")

    def run(
        self, *, max_passes: int | None = None, until: Callable[[], bool] | None = None
    ) -> None:
        """Loop until ``stop()`` (or a signal handler calling it), ``max_passes`` passes, or
        ``until()`` returns true after a pass."""
        self._register()
        listener = wakeup.open_listener(self.settings.home)
        self._stop_reader, self._stop_writer = socket.socketpair()
        self._stop_reader.setblocking(False)
        self._stop_writer.setblocking(False)
        private = [self._stop_reader, self._stop_writer] + (
            [listener] if listener is not None else []
        )
        self.executor.start(self.handler, private_fds=private, home=self.settings.home)
        last_heartbeat = time.monotonic()
        next_recovery = 0.0
        passes = 0
        failures = 0
        events: list[Event] = []
        result: PassResult | None = None
        skip_pass = False
        starts_since: float | None = None  # when the oldest start not yet recorded arrived
        drain_noted = False
        try:
            while self._phase is not SchedulerPhase.STOPPING:
                if self._phase is SchedulerPhase.DRAINING:
                    if not drain_noted:
                        drain_noted = True
                        log.info(
                            "Scheduler stopping: no new tries; waiting up to %g s for %d running "
                            "task(s) to finish (stop again to terminate them now)",
                            self.shutdown_grace,
                            len(self.executor.running_ti_ids),
                        )
                    if not (self.executor.running_ti_ids or self.executor.running_callback_runs):
                        break
                    if time.monotonic() >= self._drain_until:
                        log.warning(
                            "Scheduler stopping: the shutdown grace of %g s is over",
                            self.shutdown_grace,
                        )
                        break
                if skip_pass:
                    timeout = self._timeout(result, failures, after_pass=False)
                    if starts_since is not None:
                        timeout = min(
                            timeout, max(0.0, starts_since + START_RECORD_DELAY - time.monotonic())
                        )
                else:
                    starts_since = None
                    recover = (
                        time.monotonic() >= next_recovery or self._recover_now
                    ) and self._phase is SchedulerPhase.RUNNING
                    self._recover_now = False
                    try:
                        result = self.run_pass(events, recover=recover)
                    except Exception:
                        failures += 1
                        result = None
                        log.exception("Scheduler pass failed (%d in a row); trying again", failures)
                    else:
                        failures = 0
                        events = []
                        if recover:
                            next_recovery = time.monotonic() + RECOVERY_EVERY
                    passes += 1
                    if max_passes is not None and passes >= max_passes:
                        break
                    if until is not None and until():
                        break
                    timeout = self._timeout(result, failures)
                skip_pass = False
                if self.executor.running_ti_ids:  # beat on time for the tries it runs
                    timeout = min(
                        timeout, max(0.0, last_heartbeat + self.heartbeat_every - time.monotonic())
                    )
                if self._phase is SchedulerPhase.DRAINING:
                    timeout = min(timeout, max(0.0, self._drain_until - time.monotonic()))
                extra = [self._stop_reader] + ([listener] if listener is not None else [])
                waited_from = time.monotonic()
                new_events, readable = self.executor.wait(timeout, extra)
                # The executor also wakes for its own reasons (a reaped process, a reply to a
                # launch) that bring no event: those need no pass.
                woke_early = time.monotonic() - waited_from < timeout - 0.001
                if self._stop_reader in readable:
                    wakeup.drain(self._stop_reader)
                readable = [fd for fd in readable if fd is not self._stop_reader]
                events.extend(new_events)
                if readable and listener is not None:
                    wakeup.drain(listener)
                    self._full_sweep = True
                if (
                    not new_events
                    and not readable
                    and not woke_early
                    and timeout >= self.max_loop_interval
                ):
                    self._full_sweep = True
                if time.monotonic() - last_heartbeat >= self.heartbeat_every:
                    try:
                        self._heartbeat()
                    except Exception:
                        log.exception("Scheduler heartbeat failed")
                    last_heartbeat = time.monotonic()
                pass_due = (
                    failures > 0
                    or bool(readable)
                    or self._full_sweep
                    or self._recover_now
                    or (time.monotonic() >= next_recovery and self._phase is SchedulerPhase.RUNNING)
                    or self._deadline_passed()
                )
                slot_freed = (
                    result is not None and result.waiting_for_slots and self.executor.open_slots > 0
                )
                if not pass_due and not events and woke_early and not slot_freed:
                    skip_pass = True
                elif (
                    not pass_due
                    and events
                    and all(isinstance(event, TaskStarted) for event in events)
                ):
                    # Tries that only started change no decision: no pass for them. They go
                    # with the next pass (a finishing try usually brings one soon), or on their
                    # own after START_RECORD_DELAY.
                    skip_pass = True
                    if starts_since is None:
                        starts_since = time.monotonic()
                    elif time.monotonic() - starts_since >= START_RECORD_DELAY:
                        try:
                            self._record_started(events)
                        except Exception:
                            log.exception("Could not record started tries; the next pass does")
                            skip_pass = False
                        else:
                            events = []
                            starts_since = None
        finally:
            self._shutdown(listener, events)

    def _deadline_passed(self) -> bool:
        # Monotonic, not the clock: the clock is read once per pass (tests count on it).
        return self._deadline_mono is not None and time.monotonic() >= self._deadline_mono

    def _record_started(self, events: list[Event]) -> None:
        started = [event for event in events if isinstance(event, TaskStarted)]
        db_engine.run_in_transaction(
            self.engine, lambda session: outcomes.record_started(session, started)
        )

    def _timeout(
        self, result: PassResult | None, failures: int, *, after_pass: bool = True
    ) -> float:
        """How long to wait for events: until the next deadline, at most ``max_loop_interval``;
        not at all when more is ready. Between passes (``after_pass`` false) the clock is not
        read: the deadline's monotonic time serves."""
        if result is None:
            return min(MAX_ERROR_BACKOFF, 0.5 * 2 ** min(failures, 6))
        timeout = self.max_loop_interval
        if result.wake_at is not None:
            if after_pass:
                timeout = min(timeout, max(0.0, (result.wake_at - self.clock()).total_seconds()))
            elif self._deadline_mono is not None:
                timeout = min(timeout, max(0.0, self._deadline_mono - time.monotonic()))
        if result.more_ready or result.sweep_next:
            return 0.0
        if result.workloads and after_pass:
            timeout = min(timeout, 0.05)
        return timeout

    def _shutdown(self, listener: Any, pending: list[Event]) -> None:
        log.info(
            "Scheduler stopping: terminating %d running task(s)", len(self.executor.running_ti_ids)
        )
        events = pending + self.executor.end()
        try:
            files_done: list[Path] = []

            def finish(session: Session) -> None:
                files_done.clear()
                now = self.clock()
                outcomes.apply_events(session, self.cache, events, now, self.log_folder)
                for event in events:
                    if isinstance(event, TaskFinished) and isinstance(
                        event.message.get("try_number"), int
                    ):
                        files_done.append(
                            outcomes.outcome_path(
                                self.outcome_folder, event.ti_id, event.message["try_number"]
                            )
                        )
                # Tries queued but never started go back to scheduled for the next scheduler.
                for ti in session.scalars(
                    select(TaskInstance).where(
                        TaskInstance.state == TIS.QUEUED.value,
                        TaskInstance.queued_by_job_id == self.job_id,
                    )
                ):
                    ti.state = TIS.SCHEDULED.value
                    if ti.reschedule_date is None:
                        ti.try_number = max(0, (ti.try_number or 1) - 1)
                    ti.queued_by_job_id = None
                job = session.get(Job, self.job_id)
                if job is not None:
                    job.state = JobState.SUCCESS.value
                    job.end_date = now

            if self.job_id is not None:
                db_engine.run_in_transaction(self.engine, finish)
                outcomes.remove_outcome_files(files_done)
        except Exception:
            log.exception(
                "Could not record the end of the running tasks; the next scheduler will recover "
                "them"
            )
        finally:
            if listener is not None:
                listener.close()
            for end in (self._stop_reader, self._stop_writer):
                if end is not None:
                    end.close()
            self._stop_reader = self._stop_writer = None
            log.info("Scheduler stopped")
