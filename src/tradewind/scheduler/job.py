"""The scheduler loop: wait for something to happen, then make every decision it allows.

The loop sleeps in the executor's ``wait`` until a task process reports, another process
wakes it (``services.wakeup``), or the earliest known deadline passes (a due run, a retry, a
reschedule, a heartbeat). Each pass is one transaction: apply task outcomes, create and start
runs, decide task states, finish runs, queue ready tasks; then the queued tasks are started.
A killed scheduler loses nothing: every decision is committed before it is acted on, and a
restarted one repairs what the dead one left running (``scheduler.recovery``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.config import Settings
from tradewind.db import engine as db_engine
from tradewind.db.models import Dag, DagRun, Job, JobState, JobType, TaskInstance
from tradewind.executors.base import BaseExecutor, Event
from tradewind.executors.workload import TaskWorkload
from tradewind.scheduler import outcomes, queueing, recovery, run_lifecycle, task_scheduling
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.scheduler.requests import TaskRequestHandler
from tradewind.sdk import timezone
from tradewind.sdk.states import DagRunState
from tradewind.sdk.states import TaskInstanceState as TIS
from tradewind.services import wakeup

log = logging.getLogger("tradewind.scheduler")

HEARTBEAT_EVERY = 5.0
RECOVERY_EVERY = 10.0


@dataclasses.dataclass
class PassResult:
    workloads: list[TaskWorkload]
    to_terminate: list[int]
    wake_at: datetime | None
    more_ready: bool


class SchedulerJob:
    """One scheduler process: its job row, its executor, its loop."""

    def __init__(self, settings: Settings, engine: Engine, executor: BaseExecutor, *, clock: Any = timezone.utcnow) -> None:
        self.settings = settings
        self.engine = engine
        self.executor = executor
        self.clock = clock
        self.cache = DagVersionCache()
        self.log_folder = settings.log_folder
        self.heartbeat_timeout = float(settings.get("scheduler", "heartbeat_timeout"))
        self.max_loop_interval = float(settings.get("scheduler", "max_loop_interval"))
        self.is_postgres = engine.dialect.name == "postgresql"
        self.job_id: int | None = None
        self._dirty: set[tuple[str, str]] = set()
        self._full_sweep = True
        self._stopping = False

    # -- setup ------------------------------------------------------------------------------
    def _register(self) -> None:
        def register(session: Session) -> int:
            job = Job(job_type=JobType.SCHEDULER.value, state=JobState.RUNNING.value,
                      hostname=socket.gethostname(), pid=os.getpid(), latest_heartbeat=self.clock())
            session.add(job)
            session.flush()
            return job.id

        self.job_id = db_engine.run_in_transaction(self.engine, register)
        log.info("Scheduler job %s started (pid %d)", self.job_id, os.getpid())

    def _recover(self) -> None:
        def recover(session: Session) -> int:
            return recovery.reset_orphans(
                session, self.cache, my_job_id=self.job_id or 0, now=self.clock(),
                timeout=self.heartbeat_timeout, running_here=self.executor.running_ti_ids, log_folder=self.log_folder,
            )

        fixed = db_engine.run_in_transaction(self.engine, recover)
        if fixed:
            self._full_sweep = True

    def _heartbeat(self) -> None:
        running = sorted(self.executor.running_ti_ids)

        def beat(session: Session) -> None:
            now = self.clock()
            job = session.get(Job, self.job_id)
            if job is not None:
                job.latest_heartbeat = now
                job.state = JobState.RUNNING.value
            if running:
                for start in range(0, len(running), 500):
                    session.query(TaskInstance).filter(TaskInstance.id.in_(running[start:start + 500])).update(
                        {TaskInstance.last_heartbeat_at: now}, synchronize_session=False)

        db_engine.run_in_transaction(self.engine, beat)

    # -- one pass -------------------------------------------------------------------------
    def _pass(self, session: Session, events: list[Event], now: datetime) -> PassResult:
        touched = outcomes.apply_events(session, self.cache, events, now, self.log_folder)
        self._dirty |= touched
        created = run_lifecycle.create_due_runs(session, self.cache, now)
        started = run_lifecycle.start_queued_runs(session, self.cache, now) if (created or self._full_sweep or touched) else []
        query = select(DagRun).where(DagRun.state == DagRunState.RUNNING.value)
        if not self._full_sweep:
            keys = self._dirty | {(run.dag_id, run.run_id) for run in started}
            if not keys:
                runs: list[DagRun] = []
            else:
                runs = [run for run in session.scalars(query.where(DagRun.run_id.in_({k[1] for k in keys})))
                        if (run.dag_id, run.run_id) in keys]
        else:
            runs = list(session.scalars(query))
        if self.is_postgres and runs:
            runs = list(session.scalars(
                select(DagRun).where(DagRun.id.in_([run.id for run in runs])).with_for_update(skip_locked=True)))
        evaluation = task_scheduling.evaluate_runs(session, self.cache, runs, now)
        finished_any = bool(evaluation.finished_runs)
        if finished_any:
            # A finished run may free a max_active_runs slot for a queued one.
            for run in run_lifecycle.start_queued_runs(session, self.cache, now):
                more = task_scheduling.evaluate_runs(session, self.cache, [run], now)
                evaluation.scheduled_any |= more.scheduled_any
        slots = self.executor.open_slots
        workloads = queueing.queue_ready(
            session, self.cache, slots=slots, now=now, job_id=self.job_id,
            log_folder=self.log_folder, for_update=self.is_postgres,
        )
        more_ready = len(workloads) >= slots > 0
        wake_at = evaluation.wake_at
        for candidate in (self._next_dagrun_due(session), self._next_retry_due(session)):
            if candidate is not None and (wake_at is None or candidate < wake_at):
                wake_at = candidate
        return PassResult(workloads, evaluation.to_terminate, wake_at, more_ready)

    @staticmethod
    def _next_dagrun_due(session: Session) -> datetime | None:
        return session.scalar(select(func.min(Dag.next_dagrun_create_after)).where(
            Dag.is_paused.is_(False), Dag.is_active.is_(True)))

    @staticmethod
    def _next_retry_due(session: Session) -> datetime | None:
        retry = session.scalar(select(func.min(TaskInstance.next_retry_at)).where(
            TaskInstance.state == TIS.UP_FOR_RETRY.value))
        resched = session.scalar(select(func.min(TaskInstance.reschedule_date)).where(
            TaskInstance.state == TIS.UP_FOR_RESCHEDULE.value))
        values = [value for value in (retry, resched) if value is not None]
        return min(values) if values else None

    def run_pass(self, events: list[Event]) -> PassResult:
        now = self.clock()
        result = db_engine.run_in_transaction(self.engine, lambda session: self._pass(session, events, now))
        self._dirty.clear()
        self._full_sweep = False
        for ti_id in result.to_terminate:
            self.executor.terminate(ti_id)
        for workload in result.workloads:
            self.executor.launch(workload)
        return result

    # -- the loop -------------------------------------------------------------------------
    def stop(self) -> None:
        self._stopping = True

    def run(self, *, max_passes: int | None = None) -> None:
        """Loop until ``stop()`` (or a signal handler calling it)."""
        self._register()
        self.executor.start(TaskRequestHandler(self.engine, self.settings))
        listener = wakeup.open_listener(self.settings.home)
        self._recover()
        last_heartbeat = last_recovery = time.monotonic()
        passes = 0
        events: list[Event] = []
        try:
            while not self._stopping:
                result = self.run_pass(events)
                passes += 1
                if max_passes is not None and passes >= max_passes:
                    break
                timeout = self.max_loop_interval
                if result.wake_at is not None:
                    timeout = min(timeout, max(0.0, (result.wake_at - self.clock()).total_seconds()))
                if result.more_ready or result.workloads:
                    timeout = 0.0 if result.more_ready else min(timeout, 0.05)
                extra = [listener] if listener is not None else []
                events, readable = self.executor.wait(timeout, extra)
                if readable and listener is not None:
                    wakeup.drain(listener)
                    self._full_sweep = True
                if not events and not readable and timeout >= self.max_loop_interval:
                    self._full_sweep = True
                monotonic = time.monotonic()
                if monotonic - last_heartbeat >= HEARTBEAT_EVERY:
                    self._heartbeat()
                    last_heartbeat = monotonic
                if monotonic - last_recovery >= RECOVERY_EVERY:
                    self._recover()
                    last_recovery = monotonic
        finally:
            self._shutdown(listener)

    def _shutdown(self, listener: Any) -> None:
        log.info("Scheduler stopping: terminating %d running task(s)", len(self.executor.running_ti_ids))
        events = self.executor.end()
        try:
            def finish(session: Session) -> None:
                outcomes.apply_events(session, self.cache, events, self.clock(), self.log_folder)
                job = session.get(Job, self.job_id)
                if job is not None:
                    job.state = JobState.SUCCESS.value
                    job.end_date = self.clock()

            db_engine.run_in_transaction(self.engine, finish)
        finally:
            if listener is not None:
                listener.close()


