"""``tradewind dags test``: one whole DAG run in this process, no database, no server.

Tasks run one at a time in dependency order, with the same trigger-rule, retry and run-state
decisions the scheduler makes (``tradewind.scheduler.*``), so a DAG ends here with the states
it would get when scheduled.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tradewind.exceptions import TradewindError
from tradewind.runner import task_execution
from tradewind.runner.runtime import RunInfo
from tradewind.runner.task_execution import TryRequest
from tradewind.runner.xcom_store import MISSING, InMemoryXComStore, XComStore
from tradewind.scheduler import retries, run_state, trigger_rules
from tradewind.sdk import timezone
from tradewind.sdk.context import Context
from tradewind.sdk.dag import DAG
from tradewind.sdk.mapped import MappedOperator
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
    unexpanded: bool = False

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
            task_id: [LocalTaskInstance(task_id, unexpanded=dag.task_dict[task_id].is_mapped)]
            for task_id in self.order
        }
        self.leaves = {task.task_id for task in dag.leaves}

    # -- decisions ------------------------------------------------------------------------
    def _upstream_counts(self, task_id: str) -> trigger_rules.UpstreamCounts:
        states = [
            ti.state
            for upstream in self.dag.task_dict[task_id].upstream_task_ids
            for ti in self.tis[upstream]
        ]
        return trigger_rules.UpstreamCounts.from_states(states)

    def _pull(self, task_id: str, key: str) -> Any:
        if self.dag.task_dict[task_id].is_mapped:
            return self.xcoms.get_mapped(self.run.dag_id, self.run.run_id, task_id, key)
        value = self.xcoms.get(self.run.dag_id, self.run.run_id, task_id, -1, key)
        return None if value is MISSING else value

    def _expand(self, placeholder: LocalTaskInstance) -> None:
        task = self.dag.task_dict[placeholder.task_id]
        assert isinstance(task, MappedOperator)  # only a mapped task has an unexpanded placeholder
        try:
            count = len(task.resolve_expansion(self._pull))
        except (TradewindError, TypeError, ValueError) as exc:
            log.error("Cannot expand mapped task %s: %s", task.task_id, exc)
            self._settle(placeholder, TIS.FAILED)
            return
        if count == 0:
            log.info("Mapped task %s has no elements: marking it skipped", task.task_id)
            placeholder.unexpanded = False
            self._settle(placeholder, TIS.SKIPPED)
            return
        log.info("Mapped task %s expanded to %d task instances", task.task_id, count)
        self.tis[task.task_id] = [LocalTaskInstance(task.task_id, index) for index in range(count)]

    def _settle(self, ti: LocalTaskInstance, state: TIS) -> None:
        ti.state = state
        log.info("Task %s is %s", ti.key, state.value)

    def _ready_time(self, ti: LocalTaskInstance, now: datetime) -> bool:
        # --no-retry-delay shortens retries only: a reschedule sensor still waits for its next poke.
        if ti.next_try_at is None or (ti.state is TIS.UP_FOR_RETRY and not self.use_retry_delay):
            return True
        return ti.next_try_at <= now

    def _stop_remaining(self, failed: LocalTaskInstance) -> None:
        """``fail_fast``: every other unfinished task instance is skipped, as Airflow does."""
        for ti in self.all_task_instances():
            if ti is not failed and ti.state not in FINISHED_STATES:
                self._settle(ti, TIS.SKIPPED)

    # -- one pass -------------------------------------------------------------------------
    def _step(self) -> bool:
        """Advance every task instance that can move; True when something changed."""
        progressed = False
        for task_id in self.order:
            task = self.dag.task_dict[task_id]
            for ti in list(self.tis[task_id]):
                if ti.state is None:
                    verdict = trigger_rules.evaluate(
                        task.trigger_rule, self._upstream_counts(task_id), map_index=ti.map_index
                    )
                    if verdict is trigger_rules.Verdict.WAIT:
                        continue
                    progressed = True
                    if verdict.settled_state is not None:
                        self._settle(ti, verdict.settled_state)
                        continue
                    if ti.unexpanded:
                        self._expand(ti)
                        continue
                    self._run_try(task, ti)
                elif ti.state in _WAITING and self._ready_time(ti, timezone.utcnow()):
                    progressed = True
                    self._run_try(task, ti)
        return progressed

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
        ti.state = TIS.RUNNING
        self.xcoms.clear(self.run.dag_id, self.run.run_id, ti.task_id, ti.map_index)
        outcome = task_execution.execute_try(
            request,
            self.xcoms,
            variable_lookup=self.variable_lookup,
            connection_lookup=self.connection_lookup,
        )
        ti.state = outcome.state
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
    def _decided_state(self) -> DagRunState | None:
        states = [(ti.task_id, ti.state) for tis in self.tis.values() for ti in tis]
        return run_state.decide_run_state(states, self.leaves, fail_fast=self.dag.fail_fast)

    def _timed_out(self, started: float) -> bool:
        timeout = self.dag.dagrun_timeout
        return timeout is not None and time.monotonic() - started > timeout.total_seconds()

    def execute(self) -> DagTestResult:
        started = time.monotonic()
        log.info("Running DAG %s, run %s", self.dag.dag_id, self.run.run_id)
        state: DagRunState | None = None
        while state is None:
            if self._timed_out(started):
                log.error(
                    "Run %s exceeded dagrun_timeout %s", self.run.run_id, self.dag.dagrun_timeout
                )
                for ti in self.all_task_instances():
                    if ti.state not in FINISHED_STATES:
                        ti.state = TIS.SKIPPED
                state = DagRunState.FAILED
                break
            progressed = self._step()
            state = self._decided_state()
            if state is not None or progressed:
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
