"""Decide the next state of each task instance of running DAG runs, and finish decided runs.

Runs are evaluated task by task in topological order, so a skip or an upstream failure
propagates down the whole graph in one pass. The decisions themselves (trigger rules, run
state) are the pure functions ``dags test`` uses too.

Every pass reads every task instance of the runs it looks at, so they are read as plain rows
(``ti_rows``), not ORM objects.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import Session

from tradewind.db.models import DagRun, TaskInstance
from tradewind.exceptions import TradewindError
from tradewind.scheduler import outcomes, run_state, ti_rows, trigger_rules, xcom_reads
from tradewind.scheduler.dag_cache import CachedVersion, DagVersionCache
from tradewind.sdk.states import FINISHED_STATES, DagRunState
from tradewind.sdk.states import TaskInstanceState as TIS
from tradewind.sdk.task_node import TaskNode

log = logging.getLogger("tradewind.scheduler")

_PAST_OK = {TIS.SUCCESS.value, TIS.SKIPPED.value}
_ACTIVE = {TIS.QUEUED.value, TIS.RUNNING.value}


@dataclasses.dataclass
class EvaluationResult:
    finished_runs: list[tuple[DagRun, DagRunState]] = dataclasses.field(default_factory=list)
    wake_at: datetime | None = None
    to_terminate: list[int] = dataclasses.field(default_factory=list)
    scheduled_any: bool = False
    #: Ids of the finished runs that failed because they exceeded ``dagrun_timeout``.
    timed_out: set[int] = dataclasses.field(default_factory=set)

    def merge(self, other: EvaluationResult) -> None:
        self.finished_runs.extend(other.finished_runs)
        self.wake(other.wake_at)
        self.to_terminate.extend(other.to_terminate)
        self.scheduled_any |= other.scheduled_any
        self.timed_out |= other.timed_out

    def wake(self, at: datetime | None) -> None:
        if at is not None and (self.wake_at is None or at < self.wake_at):
            self.wake_at = at


_TI = TaskInstance.__table__
# Built once: building a statement costs about as much as running it.
_RUN_TIS = ti_rows.select_rows(
    ti_rows.EVALUATE, tuple_(_TI.c.dag_id, _TI.c.run_id).in_(bindparam("runs", expanding=True))
)


def load_task_instances(session: Session, runs: list[DagRun]) -> dict[tuple[str, str], list[Any]]:
    """Every task instance of ``runs``, as ``TaskInstanceRow``s by (dag_id, run_id)."""
    grouped: dict[tuple[str, str], list[Any]] = defaultdict(list)
    keys = [(run.dag_id, run.run_id) for run in runs]
    session.flush()
    for start in range(0, len(keys), 500):
        result = session.execute(_RUN_TIS, {"runs": keys[start : start + 500]})
        for ti in ti_rows.rows_of(ti_rows.EVALUATE, result):
            grouped[(ti.dag_id, ti.run_id)].append(ti)
    return grouped


def evaluate_runs(
    session: Session, cache: DagVersionCache, runs: list[DagRun], now: datetime
) -> EvaluationResult:
    result = EvaluationResult()
    by_run = load_task_instances(session, runs)
    history: list[int] = []
    for run in runs:
        if run.dag_version_id is None:
            continue
        try:
            version = cache.get(session, run.dag_version_id)
        except Exception:  # one unreadable version must not stop every other run
            log.exception(
                "Cannot load DAG version %s of run %s of %s; the run waits",
                run.dag_version_id,
                run.run_id,
                run.dag_id,
            )
            continue
        _evaluate_run(
            session, run, version, by_run.get((run.dag_id, run.run_id), []), now, result, history
        )
    session.flush()
    ti_rows.write_changes(session, (ti for tis in by_run.values() for ti in tis))
    for ti_id in history:
        ti = session.get(TaskInstance, ti_id, populate_existing=True)
        if ti is not None:
            outcomes.record_history(session, ti)
    session.flush()
    return result


def _finish_run(run: DagRun, state: DagRunState, now: datetime, result: EvaluationResult) -> None:
    run.state = state.value
    run.end_date = now
    result.finished_runs.append((run, state))
    log.info("DAG run %s of %s finished: %s", run.run_id, run.dag_id, state.value)


def _timed_out(run: DagRun, version: CachedVersion, now: datetime) -> bool:
    timeout = version.dag.dagrun_timeout
    return timeout is not None and run.start_date is not None and now - run.start_date > timeout


def _evaluate_run(
    session: Session,
    run: DagRun,
    version: CachedVersion,
    tis: list[Any],
    now: datetime,
    result: EvaluationResult,
    history: list[int],
) -> None:
    dag = version.dag
    if _timed_out(run, version, now):
        for ti in tis:
            if ti.state in _ACTIVE:
                result.to_terminate.append(ti.id)
            if ti.state is None or TIS(ti.state) not in FINISHED_STATES:
                ti.state = TIS.SKIPPED.value
                ti.end_date = now
        log.warning(
            "DAG run %s of %s exceeded dagrun_timeout %s",
            run.run_id,
            run.dag_id,
            dag.dagrun_timeout,
        )
        _finish_run(run, DagRunState.FAILED, now, result)
        result.timed_out.add(run.id)
        return
    if dag.dagrun_timeout is not None and run.start_date is not None:
        result.wake(run.start_date + dag.dagrun_timeout)
    by_task: dict[str, list[Any]] = defaultdict(list)
    for ti in tis:
        by_task[ti.task_id].append(ti)
    for task_id, task_tis in by_task.items():
        if task_id not in dag.task_dict:
            for ti in task_tis:
                if ti.state is None:
                    ti.state = TIS.REMOVED.value
    for task_id in version.topological_order:
        task = dag.task_dict[task_id]
        for ti in list(by_task.get(task_id, [])):
            _evaluate_ti(session, run, version, task, ti, by_task, now, result, history)
    decided = run_state.decide_run_state(
        [
            (ti.task_id, TIS(ti.state) if ti.state else None)
            for tis_ in by_task.values()
            for ti in tis_
        ],
        set(version.leaf_ids),
        fail_fast=dag.fail_fast,
    )
    if decided is not None:
        if decided is DagRunState.FAILED and dag.fail_fast:
            for tis_ in by_task.values():
                for ti in tis_:
                    if ti.state in _ACTIVE:
                        result.to_terminate.append(ti.id)
                    if ti.state is None or TIS(ti.state) not in FINISHED_STATES:
                        ti.state = TIS.SKIPPED.value
                        ti.end_date = now
        _finish_run(run, decided, now, result)


def _evaluate_ti(
    session: Session,
    run: DagRun,
    version: CachedVersion,
    task: TaskNode,
    ti: Any,
    by_task: dict[str, list[Any]],
    now: datetime,
    result: EvaluationResult,
    history: list[int],
) -> None:
    state = ti.state
    if state == TIS.UP_FOR_RETRY.value:
        if ti.next_retry_at is None or ti.next_retry_at <= now:
            _schedule(ti, now, result)
        else:
            result.wake(ti.next_retry_at)
        return
    if state == TIS.UP_FOR_RESCHEDULE.value:
        if ti.reschedule_date is None or ti.reschedule_date <= now:
            _schedule(ti, now, result)
        else:
            result.wake(ti.reschedule_date)
        return
    if state is not None:
        return
    upstream_states = [
        other.state
        for upstream_id in task.upstream_task_ids
        for other in by_task.get(upstream_id, [])
    ]
    verdict = trigger_rules.evaluate(
        task.trigger_rule,
        trigger_rules.UpstreamCounts.from_states(upstream_states),
        map_index=ti.map_index,
    )
    if verdict is trigger_rules.Verdict.WAIT:
        return
    if verdict.settled_state is not None:
        ti.state = verdict.settled_state.value
        ti.end_date = now
        return
    if task.is_mapped and ti.map_index == -1:
        _expand(session, run, version, task, ti, by_task, now, result)
        return
    if task.depends_on_past and not _past_ok(session, run, task, ti):
        return
    if (ti.try_number or 0) > 0:
        # Cleared after earlier tries: the next try gets the task's retries afresh (Airflow 3).
        ti.max_tries = ti.try_number + task.retries
    if getattr(task, "inherits_from_empty_operator", False) and not _has_callbacks(task):
        ti.state = TIS.SUCCESS.value
        ti.try_number = (ti.try_number or 0) + 1
        ti.start_date = ti.end_date = now
        ti.duration = 0.0
        history.append(ti.id)  # copied once the change is written
        return
    _schedule(ti, now, result)


def _has_callbacks(task: object) -> bool:
    return any(
        getattr(task, name, False)
        for name in (
            "has_on_execute_callback",
            "has_on_success_callback",
            "has_on_failure_callback",
            "has_on_retry_callback",
            "has_on_skipped_callback",
        )
    )


def _schedule(ti: Any, now: datetime, result: EvaluationResult) -> None:
    ti.state = TIS.SCHEDULED.value
    ti.scheduled_dttm = now
    result.scheduled_any = True


def _expand(
    session: Session,
    run: DagRun,
    version: CachedVersion,
    task: object,
    placeholder: Any,
    by_task: dict[str, list[Any]],
    now: datetime,
    result: EvaluationResult,
) -> None:
    dag = version.dag

    def pull(task_id: str, key: str) -> object:
        mapped = dag.task_dict[task_id].is_mapped if task_id in dag.task_dict else False
        return xcom_reads.pull(session, run.dag_id, run.run_id, task_id, key, mapped=mapped)

    try:
        count = len(task.resolve_expansion(pull))  # type: ignore[attr-defined]  # only mapped tasks get here
    except (TradewindError, TypeError, ValueError) as exc:
        log.error(
            "Cannot expand mapped task %s of run %s: %s", placeholder.task_id, run.run_id, exc
        )
        placeholder.state = TIS.FAILED.value
        placeholder.end_date = now
        return
    if count == 0:
        placeholder.state = TIS.SKIPPED.value
        placeholder.end_date = now
        log.info(
            "Mapped task %s of run %s has no elements: skipped", placeholder.task_id, run.run_id
        )
        return
    placeholder.map_index = 0
    _schedule(placeholder, now, result)
    copied = session.get(
        TaskInstance, placeholder.id
    )  # what every mapped instance gets of the placeholder
    assert copied is not None
    for index in range(1, count):
        ti = TaskInstance(
            dag_id=placeholder.dag_id,
            run_id=placeholder.run_id,
            task_id=placeholder.task_id,
            map_index=index,
            state=TIS.SCHEDULED.value,
            scheduled_dttm=now,
            try_number=0,
            max_tries=placeholder.max_tries,
            pool=copied.pool,
            pool_slots=copied.pool_slots,
            priority_weight=copied.priority_weight,
            queue=copied.queue,
            operator=copied.operator,
            dag_version_id=copied.dag_version_id,
        )
        session.add(ti)
        by_task[placeholder.task_id].append(ti)
    log.info(
        "Mapped task %s of run %s expanded to %d task instances",
        placeholder.task_id,
        run.run_id,
        count,
    )


def _past_ok(session: Session, run: DagRun, task: TaskNode, ti: Any) -> bool:
    """``depends_on_past`` / ``wait_for_downstream``:
    the previous run's instance must have succeeded."""
    if run.logical_date is None:
        return True
    previous = session.scalar(
        select(DagRun)
        .where(DagRun.dag_id == run.dag_id, DagRun.logical_date < run.logical_date)
        .order_by(DagRun.logical_date.desc())
        .limit(1)
    )
    if previous is None:
        return True
    ids = [ti.task_id]
    if getattr(task, "wait_for_downstream", False):
        ids.extend(task.downstream_task_ids)
    rows = session.execute(
        select(TaskInstance.task_id, TaskInstance.state).where(
            TaskInstance.dag_id == run.dag_id,
            TaskInstance.run_id == previous.run_id,
            TaskInstance.task_id.in_(ids),
        )
    ).all()
    return all(state in _PAST_OK for _, state in rows)
