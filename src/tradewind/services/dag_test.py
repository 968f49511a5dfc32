"""``tradewind dags test``: one whole DAG run in this process, no database, no server.

Tasks run one at a time in dependency order. What runs, what is settled without running and
when the run is finished are decided by the scheduler's own ``run_decisions.decide_run``, so a
DAG ends here with the states it would get when scheduled.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tradewind.runner import task_execution
from tradewind.runner.runtime import RunInfo
from tradewind.runner.task_execution import TryRequest
from tradewind.runner.xcom_store import MISSING, InMemoryXComStore, XComStore
from tradewind.scheduler import retries, run_decisions, transitions
from tradewind.sdk import timezone
from tradewind.sdk.context import Context
from tradewind.sdk.dag import DAG
from tradewind.sdk.states import FINISHED_STATES, DagRunState, DagRunType
from tradewind.sdk.states import TaskInstanceState as TIS

log = logging.getLogger("tradewind.dag_test")

_WAITING = {TIS.UP_FOR_RETRY, TIS.UP_FOR_RESCHEDULE}


@dataclasses.dataclass
class LocalTaskInstance:
    """A task instance of the in-process run."""

    task_id: str
    map_index: int = -1
    state: TIS | None = None
    try_number: int = 0
    start_date: datetime | None = None
    end_date: datetime | None = None
    duration: float | None = None
    next_try_at: datetime | None = None
    sensor_start_date: datetime | None = None
    poke_number: int = 0

    @property
    def key(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"


@dataclasses.dataclass
class DagTestResult:
    dag_id: str
    run_id: str
    state: DagRunState
    task_instances: list[LocalTaskInstance]

    def to_json(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "state": self.state.value,
            "tasks": {
                ti.key: {
                    "state": ti.state.value if ti.state else None,
                    "try_number": ti.try_number,
                    "duration": round(ti.duration, 6) if ti.duration is not None else None,
                }
                for ti in self.task_instances
            },
        }


def make_run_info(
    dag: DAG, logical_date: datetime | None, conf: dict[str, Any], run_id: str | None = None
) -> RunInfo:
    """A manual run's identity and data interval, as Airflow infers them for a manual trigger."""
    logical_date = timezone.coerce_utc(logical_date) or timezone.utcnow()
    interval = dag.timetable.infer_manual_data_interval(run_after=logical_date)
    return RunInfo(
        dag_id=dag.dag_id,
        run_id=run_id or DagRunType.MANUAL.generate_run_id(logical_date.isoformat()),
        logical_date=logical_date,
        data_interval_start=interval.start,
        data_interval_end=interval.end,
        run_type=DagRunType.MANUAL.value,
        conf=dict(conf),
        start_date=timezone.utcnow(),
        run_after=logical_date,
    )


class LocalDagRun:
    """Runs every task instance of one DAG run in this process until the run is decided."""

    def __init__(
        self,
        dag: DAG,
        run: RunInfo,
        *,
        use_retry_delay: bool = True,
        xcoms: XComStore | None = None,
        variable_lookup: Callable[[str], str | None] | None = None,
        connection_lookup: Callable[[str], Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        dag.validate()
        self.dag = dag
        self.run = run
        self.params = dag.params.resolve(run.conf)
        self.use_retry_delay = use_retry_delay
        self.xcoms = xcoms or InMemoryXComStore()
        self.variable_lookup = variable_lookup
        self.connection_lookup = connection_lookup
        self.sleep = sleep
        self.order = [task.task_id for task in dag.topological_sort()]
        self.tis: dict[str, list[LocalTaskInstance]] = {
            task_id: [LocalTaskInstance(task_id)] for task_id in self.order
        }
        self.leaves = frozenset(task.task_id for task in dag.leaves)
        self.started_at: datetime | None = None

    # -- decisions: the scheduler's, on this run's task instances ----------------------------
    def _decide(
        self, now: datetime
    ) -> tuple[run_decisions.RunDecision, dict[int, LocalTaskInstance]]:
        """``decide_run`` on the task instances as they are now (XComs a mapped task expands
        over are read from the store when the decision asks for them)."""
        by_id = dict(enumerate(self.all_task_instances(), start=1))
        view = run_decisions.RunView(
            dag=self.dag,
            topological_order=tuple(self.order),
            leaf_ids=self.leaves,
            start_date=self.started_at,
            tis=tuple(self._ti_view(ti_id, ti) for ti_id, ti in by_id.items()),
            past=run_decisions.PastStates(complete=True),
        )
        decision = run_decisions.decide_run(view, now)
        while decision.needs_xcoms:
            xcoms = {**view.xcoms, **{key: self._pull(*key) for key in decision.needs_xcoms}}
            view = dataclasses.replace(view, xcoms=xcoms)
            decision = run_decisions.decide_run(view, now)
        return decision, by_id

    def _ti_view(self, ti_id: int, ti: LocalTaskInstance) -> run_decisions.TiView:
        # --no-retry-delay shortens retries only: a reschedule sensor still waits for its next poke.
        retry_at = ti.next_try_at if self.use_retry_delay else None
        return run_decisions.TiView(
            id=ti_id,
            task_id=ti.task_id,
            map_index=ti.map_index,
            state=ti.state.value if ti.state else None,
            try_number=ti.try_number,
            max_tries=None,
            next_retry_at=retry_at if ti.state is TIS.UP_FOR_RETRY else None,
            reschedule_date=ti.next_try_at if ti.state is TIS.UP_FOR_RESCHEDULE else None,
        )

    def _pull(self, task_id: str, key: str, mapped: bool) -> Any:
        if mapped:
            return self.xcoms.get_mapped(self.run.dag_id, self.run.run_id, task_id, key)
        value = self.xcoms.get(self.run.dag_id, self.run.run_id, task_id, -1, key)
        return None if value is MISSING else value

    def _expand(self, expansion: run_decisions.Expansion) -> None:
        task_id = expansion.task_id
        if expansion.error is not None:
            log.error("Cannot expand mapped task %s: %s", task_id, expansion.error)
        elif expansion.count == 0:
            log.info("Mapped task %s has no elements: marking it skipped", task_id)
        else:
            log.info("Mapped task %s expanded to %d task instances", task_id, expansion.count)
            self.tis[task_id] = [
                LocalTaskInstance(task_id, index) for index in range(expansion.count)
            ]

    def _settle(self, ti: LocalTaskInstance, state: TIS) -> None:
        transitions.move(ti, transitions.SETTLE, state)
        log.info("Task %s is %s", ti.key, state.value)

    def _stop_remaining(self, failed: LocalTaskInstance) -> None:
        """``fail_fast``: every other unfinished task instance is skipped, as Airflow does."""
        for ti in self.all_task_instances():
            if ti is not failed and ti.state not in FINISHED_STATES:
                transitions.move(ti, transitions.SKIP_AND_STOP, TIS.SKIPPED)
                log.info("Task %s is %s", ti.key, TIS.SKIPPED.value)

    # -- one pass -------------------------------------------------------------------------
    def _step(
        self, decision: run_decisions.RunDecision, by_id: dict[int, LocalTaskInstance]
    ) -> None:
        """Apply a decision: settle what it settles, expand, then run each try it starts
        (one at a time, in dependency order)."""
        expanded = {e.placeholder_id for e in decision.expansions if e.count > 0}
        to_run: list[tuple[LocalTaskInstance, TIS | None]] = []
        for change in decision.changes:
            ti = by_id[change.ti_id]
            if change.kind in (run_decisions.ChangeKind.SCHEDULE, run_decisions.ChangeKind.SUCCEED):
                if change.ti_id not in expanded:
                    to_run.append((ti, ti.state))
            elif change.kind is run_decisions.ChangeKind.STOP:
                transitions.move(ti, transitions.SKIP_AND_STOP, TIS.SKIPPED)
                log.info("Task %s is %s", ti.key, TIS.SKIPPED.value)
            else:
                self._settle(ti, change.state)
        for expansion in decision.expansions:
            self._expand(expansion)
        for ti, state in to_run:
            if ti.state is state:  # not skipped or stopped by a try run before it
                self._run_try(self.dag.task_dict[ti.task_id], ti)

    def _run_try(self, task: Any, ti: LocalTaskInstance) -> None:
        if ti.state is not TIS.UP_FOR_RESCHEDULE:
            ti.try_number += 1
            ti.sensor_start_date = None
            ti.poke_number = 0
        request = TryRequest(
            task=task,
            run=self.run,
            params=self.params,
            map_index=ti.map_index,
            try_number=ti.try_number,
            max_tries=task.retries,
            sensor_start_date=ti.sensor_start_date,
            poke_number=ti.poke_number,
            test_mode=True,
        )
        transitions.run_in_process(ti)
        self.xcoms.clear(self.run.dag_id, self.run.run_id, ti.task_id, ti.map_index)
        outcome = task_execution.execute_try(
            request,
            self.xcoms,
            variable_lookup=self.variable_lookup,
            connection_lookup=self.connection_lookup,
        )
        transitions.move(ti, transitions.FINISH, outcome.state)
        ti.start_date = (
            ti.start_date
            if outcome.state is TIS.UP_FOR_RESCHEDULE and ti.start_date
            else outcome.start_date
        )
        ti.end_date = outcome.end_date
        ti.duration = (outcome.end_date - (ti.start_date or outcome.start_date)).total_seconds()
        if outcome.state is TIS.UP_FOR_RETRY:
            ti.next_try_at = retries.next_retry_at(
                task,
                dag_id=self.run.dag_id,
                run_id=self.run.run_id,
                try_number=ti.try_number,
                failed_at=outcome.end_date,
            )
            log.info("Task %s will be retried at %s", ti.key, ti.next_try_at.isoformat())
        elif outcome.state is TIS.UP_FOR_RESCHEDULE:
            ti.sensor_start_date = request.sensor_start_date or outcome.start_date
            ti.poke_number += 1
            ti.next_try_at = outcome.reschedule_date
        else:
            ti.next_try_at = None
        if outcome.state is TIS.FAILED and self.dag.fail_fast:
            self._stop_remaining(ti)
        for skipped_id in outcome.skipped_task_ids:
            for other in self.tis.get(skipped_id, []):
                if other.state is None:
                    self._settle(other, TIS.SKIPPED)

    # -- the run --------------------------------------------------------------------------
    def execute(self) -> DagTestResult:
        self.started_at = timezone.utcnow()
        log.info("Running DAG %s, run %s", self.dag.dag_id, self.run.run_id)
        state: DagRunState | None = None
        while state is None:
            decision, by_id = self._decide(timezone.utcnow())
            if decision.timed_out:
                log.error(
                    "Run %s exceeded dagrun_timeout %s", self.run.run_id, self.dag.dagrun_timeout
                )
            self._step(decision, by_id)
            state = decision.finished
            if state is not None or decision.changes or decision.expansions:
                continue
            waiting = [
                ti.next_try_at
                for ti in self.all_task_instances()
                if ti.state in _WAITING and ti.next_try_at
            ]
            if not waiting:
                log.error("Deadlock: no task instance can run; marking the run failed")
                state = DagRunState.FAILED
                break
            delay = (min(waiting) - timezone.utcnow()).total_seconds()
            if delay > 0:
                log.info("Waiting %.1f s for the next retry or reschedule", delay)
                self.sleep(delay)
        log.info("DAG run %s finished: %s", self.run.run_id, state.value)
        self._dag_callback(state)
        return DagTestResult(self.dag.dag_id, self.run.run_id, state, self.all_task_instances())

    def all_task_instances(self) -> list[LocalTaskInstance]:
        return [ti for task_id in self.order for ti in self.tis[task_id]]

    def _dag_callback(self, state: DagRunState) -> None:
        callback = (
            self.dag.on_success_callback
            if state is DagRunState.SUCCESS
            else self.dag.on_failure_callback
        )
        if not callback:
            return
        context = Context(
            dag=self.dag,
            dag_run=self.run,
            run_id=self.run.run_id,
            params=self.params,
            reason="success" if state is DagRunState.SUCCESS else "task_failure",
        )
        for function in callback if isinstance(callback, (list, tuple)) else [callback]:
            try:
                function(context)
            except Exception:
                log.exception("the DAG's %s callback raised; continuing", state.value)
