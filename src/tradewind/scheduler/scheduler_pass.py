"""One scheduler pass: everything decided in one transaction, from the events it applies to
the tries it queues.

A pass applies task outcomes, repairs orphans (when asked), creates and starts runs, decides
task states, finishes runs, and queues ready tasks. A full pass looks at every running run;
others at the runs their events touched. Only a full pass asks the metastore when runs fall
due and retries wait; other passes keep what the last one learned (``SchedulerPass`` remembers
it between passes).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.config import Settings
from tradewind.db.models import Dag, DagRun, TaskInstance
from tradewind.executors.base import BaseExecutor, Event, TaskFinished
from tradewind.runner.workload import CallbackWorkload, TaskWorkload
from tradewind.scheduler import (
    backfill_progress,
    dag_callbacks,
    outcomes,
    pass_policy,
    poison,
    queueing,
    recovery,
    run_lifecycle,
    task_scheduling,
)
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.sdk.states import DagRunState
from tradewind.sdk.states import TaskInstanceState as TIS

log = logging.getLogger("tradewind.scheduler")

#: Runs started in one pass because others finished, at most (the rest wait one more pass).
MAX_CASCADE = 50
#: Runs named in one query, at most (their DAG ids and run ids are two IN lists: the index
#: is searched for each pair of the two).
_BATCH = 100

# Statements of every pass, built once (building one costs about as much as running it).
_RUNNING_RUNS = select(DagRun).where(DagRun.state == DagRunState.RUNNING.value)
#: Runs by key as two IN lists, not a row-value IN (SQLite scans the whole table for a list of
#: row values): the unique (dag_id, run_id) index answers it. The few extra pairs, and runs
#: not running, are dropped after (a state condition would make SQLite read every running run).
_RUNS_OF = select(DagRun).where(
    DagRun.dag_id.in_(bindparam("dag_ids", expanding=True)),
    DagRun.run_id.in_(bindparam("run_ids", expanding=True)),
)
_given = DagRun.__table__.alias("given")
_after = DagRun.__table__.alias("after")
_NEXT_RUN_ID = (
    select(_after.c.id)
    .where(_after.c.dag_id == _given.c.dag_id, _after.c.logical_date > _given.c.logical_date)
    .order_by(_after.c.logical_date)
    .limit(1)
    .correlate(_given)
    .scalar_subquery()
)
#: The run right after each given run of its DAG (by logical date): the one whose
#: ``depends_on_past`` tasks wait on the given run's tasks.
_NEXT_RUNS = select(DagRun).where(
    DagRun.id.in_(select(_NEXT_RUN_ID).where(_given.c.id.in_(bindparam("ids", expanding=True))))
)
_ANY_SCHEDULED = select(TaskInstance.id).where(TaskInstance.state == TIS.SCHEDULED.value).limit(1)


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
    #: Runs this pass decided and the task instances their views held.
    runs_decided: int = 0
    tis_decided: int = 0

    def outlook(self, clock: Callable[[], datetime]) -> pass_policy.PassOutlook:
        """What the wait after this pass needs of it (the clock is read only for a deadline)."""
        wake_in = None if self.wake_at is None else (self.wake_at - clock()).total_seconds()
        return pass_policy.PassOutlook(
            wake_in, self.more_ready, self.sweep_next, bool(self.workloads)
        )


class SchedulerPass:
    """What one scheduler's passes need, and what each pass leaves for the next."""

    def __init__(
        self,
        cache: DagVersionCache,
        executor: BaseExecutor,
        *,
        log_folder: Path,
        outcome_folder: Path,
        heartbeat_timeout: float,
        is_postgres: bool,
    ) -> None:
        self.cache = cache
        self.executor = executor
        self.log_folder = log_folder
        self.outcome_folder = outcome_folder
        self.heartbeat_timeout = heartbeat_timeout
        self.is_postgres = is_postgres
        self.job_id: int | None = None
        #: Runs touched by events since the last committed pass.
        self._dirty: set[tuple[str, str]] = set()
        self._first_recovery = True
        #: The wall-clock time the last pass asked to be woken at.
        self.deadline: datetime | None = None
        #: When the next DAG run falls due (known from the last full pass or run creation).
        self._dagrun_due: datetime | None = None
        self._run_timeouts: dict[int, datetime] = {}

    @classmethod
    def for_settings(
        cls, cache: DagVersionCache, executor: BaseExecutor, settings: Settings, engine: Engine
    ) -> SchedulerPass:
        return cls(
            cache,
            executor,
            log_folder=settings.log_folder,
            outcome_folder=settings.home / "outcomes",
            heartbeat_timeout=float(settings.get("scheduler", "heartbeat_timeout")),
            is_postgres=engine.dialect.name == "postgresql",
        )

    def committed(self, result: PassResult, recover: bool) -> None:
        """The pass that returned ``result`` was committed."""
        self._dirty.clear()
        self._first_recovery = self._first_recovery and not recover
        self.deadline = result.wake_at

    def act(self, result: PassResult) -> bool:
        """Carry out a committed pass: stop, start tries and callbacks. False when a try could
        not start (it stays queued for recovery to schedule again)."""
        launched = True
        outcomes.remove_outcome_files(result.files_done)
        for ti_id in result.to_terminate:
            self.executor.terminate(ti_id)
        for workload in result.workloads:
            try:
                self.executor.launch(workload)
            except Exception:  # fork failed (no memory, too many processes)
                log.exception("Could not start %s; it will be scheduled again", workload.describe())
                launched = False
        for callback in result.callbacks:
            try:
                self.executor.launch_callback(callback)
            except Exception:  # a callback that cannot start must not stop the scheduler
                log.exception("Could not start the %s", callback.describe())
        return launched

    def _running_runs(self, session: Session, full: bool, extra: list[DagRun]) -> list[DagRun]:
        """Every running run in a full pass; else the running runs events touched, and the
        runs right after them whose ``depends_on_past`` tasks may now go on. A run with
        nothing new is not read: a pass costs what its events cost, not what the number of
        active runs costs."""
        if full:
            runs = list(session.scalars(_RUNNING_RUNS))
        else:
            keys = self._dirty | {(run.dag_id, run.run_id) for run in extra}
            ordered = sorted(keys)
            runs = []
            for start in range(0, len(ordered), _BATCH):
                batch = ordered[start : start + _BATCH]
                params = {
                    "dag_ids": sorted({key[0] for key in batch}),
                    "run_ids": sorted({key[1] for key in batch}),
                }
                runs.extend(
                    run
                    for run in session.scalars(_RUNS_OF, params)
                    if (run.dag_id, run.run_id) in keys and run.state == DagRunState.RUNNING
                )
            runs = self._with_next_runs(session, runs)
        if self.is_postgres and runs:
            runs = list(
                session.scalars(
                    select(DagRun)
                    .where(DagRun.id.in_([run.id for run in runs]))
                    .with_for_update(skip_locked=True)
                )
            )
        return runs

    def _with_next_runs(self, session: Session, runs: list[DagRun]) -> list[DagRun]:
        """``runs`` and the running run right after each one of a DAG with ``depends_on_past``
        tasks (its waiting tasks may start once this run's finish)."""
        ids = [
            run.id
            for run in runs
            if run.logical_date is not None and self.cache.may_depend_on_past(run.dag_id)
        ]
        seen = {run.id for run in runs}
        for start in range(0, len(ids), _BATCH):
            for run in session.scalars(_NEXT_RUNS, {"ids": ids[start : start + _BATCH]}):
                if run.id not in seen and run.state == DagRunState.RUNNING:
                    seen.add(run.id)
                    runs.append(run)
        return runs

    def run(
        self,
        session: Session,
        events: list[Event],
        now: datetime,
        full: bool,
        recover: bool,
        ended_callbacks: list[tuple[str, str]],
        draining: bool,
        set_aside: dict[int, str] | None = None,
    ) -> PassResult:
        """One pass in ``session``; ``set_aside``: unreadable DAG versions whose runs fail now."""
        files_done: list[Path] = []
        stop: list[int] = []
        adopted: list[CallbackWorkload] = []
        touched = outcomes.apply_events(session, self.cache, events, now, self.log_folder, stop)
        if set_aside:
            touched |= poison.set_aside_versions(session, set_aside, now, self.log_folder)
            full = True  # their DAGs' queued runs may start now
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
            retry_due = self.deadline if self.deadline is not None and self.deadline > now else None
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
            evaluation.runs_decided,
            evaluation.tis_decided,
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
            if timeout is None:
                self._run_timeouts.pop(run.id, None)
            else:
                self._run_timeouts[run.id] = run.start_date + timeout  # type: ignore[operator,assignment]

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
