"""One pass over running DAG runs: load their views, decide each run, write the decisions.

Loading (``run_view``) is a few batched queries, deciding (``run_decisions.decide_run``) is
pure, and ``apply_decisions`` is the one place that writes what was decided: task instance
state changes, mapped instances created by an expansion, finished runs.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from sqlalchemy import bindparam, insert, literal, select
from sqlalchemy.orm import Session

from tradewind.db.models import DagRun, TaskInstance
from tradewind.scheduler import outcomes, run_transitions, run_view, ti_rows, transitions
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.scheduler.run_decisions import (
    ChangeKind,
    Expansion,
    RunDecision,
    TiChange,
    decide_run,
)
from tradewind.sdk.states import DagRunState
from tradewind.sdk.states import TaskInstanceState as TIS

log = logging.getLogger("tradewind.scheduler")


@dataclasses.dataclass
class EvaluationResult:
    finished_runs: list[tuple[DagRun, DagRunState]] = dataclasses.field(default_factory=list)
    wake_at: datetime | None = None
    to_terminate: list[int] = dataclasses.field(default_factory=list)
    scheduled_any: bool = False
    #: Ids of the finished runs that failed because they exceeded ``dagrun_timeout``.
    timed_out: set[int] = dataclasses.field(default_factory=set)
    #: Runs decided, and the task instances their views held (what the pass's cost grows with).
    runs_decided: int = 0
    tis_decided: int = 0

    def merge(self, other: EvaluationResult) -> None:
        self.finished_runs.extend(other.finished_runs)
        self.runs_decided += other.runs_decided
        self.tis_decided += other.tis_decided
        self.wake(other.wake_at)
        self.to_terminate.extend(other.to_terminate)
        self.scheduled_any |= other.scheduled_any
        self.timed_out |= other.timed_out

    def wake(self, at: datetime | None) -> None:
        if at is not None and (self.wake_at is None or at < self.wake_at):
            self.wake_at = at


def evaluate_runs(
    session: Session, cache: DagVersionCache, runs: list[DagRun], now: datetime
) -> EvaluationResult:
    """Decide and write the next state of every task instance of ``runs``, and of the runs."""
    loaded = run_view.load_runs(session, cache, runs)
    result = apply_decisions(session, decide_runs(session, loaded, now), now)
    result.runs_decided = len(loaded)
    result.tis_decided = sum(len(item.view.tis) for item in loaded)
    return result


def decide_runs(
    session: Session, loaded: list[run_view.LoadedRun], now: datetime
) -> list[tuple[run_view.LoadedRun, RunDecision]]:
    """Each run's decision; what decisions ask for beyond their view is loaded for all of
    them at once, then those runs are decided again (rarely more than once)."""
    decided: dict[int, RunDecision] = {}
    pending = loaded
    while pending:
        incomplete = []
        for item in pending:
            decision = decide_run(item.view, now)
            if decision.complete:
                decided[item.run.id] = decision
            else:
                incomplete.append((item, decision))
        pending = run_view.load_needs(session, incomplete) if incomplete else []
    return [(item, decided[item.run.id]) for item in loaded]


_TI = TaskInstance.__table__
#: The instances 1..n-1 of an expanded mapped task, copied from its placeholder (index 0).
_COPY_PLACEHOLDER = insert(_TI).from_select(
    [
        "dag_id",
        "run_id",
        "task_id",
        "map_index",
        "state",
        "scheduled_dttm",
        "end_date",
        "try_number",
        "max_tries",
        "pool",
        "pool_slots",
        "priority_weight",
        "queue",
        "operator",
        "dag_version_id",
        "updated_at",
    ],
    select(
        _TI.c.dag_id,
        _TI.c.run_id,
        _TI.c.task_id,
        bindparam("c_map_index", type_=_TI.c.map_index.type),
        bindparam("c_state", type_=_TI.c.state.type),
        bindparam("c_now", type_=_TI.c.scheduled_dttm.type),
        bindparam("c_end_date", type_=_TI.c.end_date.type),
        literal(0),
        _TI.c.max_tries,
        _TI.c.pool,
        _TI.c.pool_slots,
        _TI.c.priority_weight,
        _TI.c.queue,
        _TI.c.operator,
        _TI.c.dag_version_id,
        bindparam("c_updated_at", type_=_TI.c.updated_at.type),
    ).where(_TI.c.id == bindparam("c_placeholder")),
)


#: What a change reads of the instance it changes (a transition checks the state it leaves).
_CHANGED = ("id", "state", "try_number")


def apply_decisions(
    session: Session, decided: list[tuple[run_view.LoadedRun, RunDecision]], now: datetime
) -> EvaluationResult:
    """Write the decisions: the only writes of the task-scheduling pass."""
    result = EvaluationResult()
    rows: dict[int, ti_rows.TaskInstanceRow] = {}
    copies: list[dict[str, object]] = []
    succeeded: list[int] = []
    for item, decision in decided:
        run = item.run
        if decision.changes:
            # Each change starts from the state the instance was loaded in (or the one an
            # earlier change of this decision left it in).
            loaded = {ti.id: ti for ti in item.view.tis}
            for change in decision.changes:
                row = rows.get(change.ti_id)
                if row is None:
                    ti = loaded[change.ti_id]
                    row = rows[change.ti_id] = ti_rows.TaskInstanceRow(
                        _CHANGED, (ti.id, ti.state, ti.try_number)
                    )
                _change(row, change, now)
                if change.kind is ChangeKind.SUCCEED:
                    succeeded.append(change.ti_id)
        for expansion in decision.expansions:
            copies.extend(_copies(run, expansion, now))
        result.wake(decision.wake_at)
        result.to_terminate.extend(decision.to_terminate)
        result.scheduled_any |= decision.scheduled_any
        if decision.timed_out:
            log.warning(
                "DAG run %s of %s exceeded dagrun_timeout %s",
                run.run_id,
                run.dag_id,
                item.version.dag.dagrun_timeout,
            )
            result.timed_out.add(run.id)
        if decision.finished is not None:
            _finish_run(run, decision.finished, now, result)
    session.flush()
    if copies:
        session.execute(_COPY_PLACEHOLDER, copies)
    ti_rows.write_changes(session, rows.values())
    if succeeded:  # an empty task's try is copied once its change is written
        tis = session.scalars(
            select(TaskInstance)
            .where(TaskInstance.id.in_(succeeded))
            .execution_options(populate_existing=True)
        )
        outcomes.record_histories(session, list(tis))
    session.flush()
    return result


def _change(row: ti_rows.TaskInstanceRow, change: TiChange, now: datetime) -> None:
    """One decided change of a task instance, through its transition."""
    if change.max_tries is not None:
        row.max_tries = change.max_tries
    if change.map_index is not None:
        row.map_index = change.map_index
    kind = change.kind
    if kind is ChangeKind.SCHEDULE:
        transitions.schedule(row, now)
    elif kind is ChangeKind.SETTLE:
        transitions.settle(row, change.state, now)
    elif kind is ChangeKind.SUCCEED:
        transitions.succeed_empty(row, now)
    elif kind is ChangeKind.REMOVE:
        transitions.remove(row)
    else:
        transitions.skip_and_stop(row, now)


def _copies(run: DagRun, expansion: Expansion, now: datetime) -> list[dict[str, object]]:
    """The instances an expansion adds (logged here: the decision itself is silent)."""
    if expansion.error is not None:
        log.error(
            "Cannot expand mapped task %s of run %s: %s",
            expansion.task_id,
            run.run_id,
            expansion.error,
        )
        return []
    if expansion.count == 0:
        log.info("Mapped task %s of run %s has no elements: skipped", expansion.task_id, run.run_id)
        return []
    log.info(
        "Mapped task %s of run %s expanded to %d task instances",
        expansion.task_id,
        run.run_id,
        expansion.count,
    )
    state = TIS.SKIPPED if expansion.stopped else TIS.SCHEDULED
    return [
        {
            "c_placeholder": expansion.placeholder_id,
            "c_map_index": index,
            "c_state": state.value,
            "c_now": now,
            "c_end_date": now if expansion.stopped else None,
            "c_updated_at": now,
        }
        for index in range(1, expansion.count)
    ]


def _finish_run(run: DagRun, state: DagRunState, now: datetime, result: EvaluationResult) -> None:
    run_transitions.finish_run(run, state, now)
    result.finished_runs.append((run, state))
    log.info("DAG run %s of %s finished: %s", run.run_id, run.dag_id, state.value)
