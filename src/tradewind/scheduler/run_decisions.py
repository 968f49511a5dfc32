"""What one pass decides for one DAG run, as a pure function of what was loaded for it.

``decide_run(view, now)`` walks the run's task instances in topological order, so a skip or an
upstream failure propagates down the whole graph in one pass, and returns a ``RunDecision``:
the state changes to write, the mapped tasks to expand, whether the run is finished. It reads
nothing but its arguments, so the scheduler (``task_scheduling``) and ``tradewind dags test``
(``services.dag_test``) decide the same way, and the rules are tested with plain tables.

What a decision needs beyond the run's own task instances (the previous run's states for
``depends_on_past``, the XComs a mapped task expands over) is asked for in
``RunDecision.needs_*`` when the view lacks it; the caller loads all of it in one batch and
decides again.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tradewind.exceptions import TradewindError
from tradewind.scheduler import run_state, trigger_rules
from tradewind.sdk.dag import DAG
from tradewind.sdk.states import FINISHED_STATES, DagRunState
from tradewind.sdk.states import TaskInstanceState as TIS

_PAST_OK = frozenset({TIS.SUCCESS.value, TIS.SKIPPED.value})
_ACTIVE = frozenset({TIS.QUEUED.value, TIS.RUNNING.value})
_FINISHED = frozenset(state.value for state in FINISHED_STATES)
_CALLBACKS = (
    "has_on_execute_callback",
    "has_on_success_callback",
    "has_on_failure_callback",
    "has_on_retry_callback",
    "has_on_skipped_callback",
)

#: An XCom a mapped task expands over: (task_id, key, whether the producer is mapped).
XComKey = tuple[str, str, bool]


@dataclasses.dataclass(frozen=True, slots=True)
class TiView:
    """The columns of a task instance that decide its next state."""

    id: int
    task_id: str
    map_index: int
    state: str | None
    try_number: int
    max_tries: int | None
    next_retry_at: datetime | None
    reschedule_date: datetime | None


@dataclasses.dataclass(frozen=True)
class PastStates:
    """The previous run's task instance states (``depends_on_past``), for the task ids loaded.

    ``complete``: there is no previous run (or the run has no logical date): every check passes.
    """

    complete: bool = False
    loaded: frozenset[str] = frozenset()
    states: Mapping[str, tuple[str | None, ...]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class XComError:
    """An XCom that could not be decoded: expanding over it fails with ``error``."""

    error: Exception


@dataclasses.dataclass(frozen=True)
class RunView:
    """One running DAG run as a pass sees it."""

    dag: DAG
    topological_order: tuple[str, ...]
    leaf_ids: frozenset[str]
    start_date: datetime | None
    tis: tuple[TiView, ...]
    past: PastStates = PastStates()
    #: Decoded XCom values by ``XComKey`` (a list in map-index order for a mapped producer).
    xcoms: Mapping[XComKey, Any] = dataclasses.field(default_factory=dict)


class ChangeKind(enum.Enum):
    """How a task instance changes: each kind sets its own columns."""

    SCHEDULE = "schedule"  # ready to queue (``scheduled_dttm``)
    SETTLE = "settle"  # finished without running (``end_date``)
    SUCCEED = "succeed"  # an empty task succeeds without running: one try, no duration
    REMOVE = "remove"  # its task left the DAG
    STOP = "stop"  # the run timed out or failed fast: skipped, terminated if active


@dataclasses.dataclass(frozen=True, slots=True)
class TiChange:
    ti_id: int
    kind: ChangeKind
    state: TIS
    #: A cleared instance's next try gets the task's retries afresh (Airflow 3).
    max_tries: int | None = None
    #: SUCCEED: the try it makes.
    try_number: int | None = None
    #: An expanded placeholder becomes map index 0.
    map_index: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Expansion:
    """A mapped task's placeholder resolved: ``count`` instances, or ``error``."""

    placeholder_id: int
    task_id: str
    count: int
    error: str | None = None
    #: The run failed fast in the same pass: the new instances are created skipped.
    stopped: bool = False


@dataclasses.dataclass(frozen=True)
class RunDecision:
    changes: tuple[TiChange, ...] = ()
    expansions: tuple[Expansion, ...] = ()
    finished: DagRunState | None = None
    timed_out: bool = False
    #: Queued or running instances whose process must be stopped.
    to_terminate: tuple[int, ...] = ()
    #: The earliest future time this run needs another look (retries, reschedules, timeout).
    wake_at: datetime | None = None
    needs_xcoms: frozenset[XComKey] = frozenset()
    needs_past: frozenset[str] = frozenset()

    @property
    def complete(self) -> bool:
        """Whether nothing was missing from the view (else load the needs and decide again)."""
        return not (self.needs_xcoms or self.needs_past)

    @property
    def scheduled_any(self) -> bool:
        return any(change.kind is ChangeKind.SCHEDULE for change in self.changes)


@dataclasses.dataclass(frozen=True, slots=True)
class QueuedRun:
    """A queued run, with the ``max_active_runs`` it starts under (its DAG's, or its
    backfill's when the backfill sets one)."""

    id: int
    dag_id: str
    backfill_id: int | None
    max_active_runs: int
    #: Its backfill is paused: it stays queued.
    held: bool = False


def runs_to_start(
    queued: Sequence[QueuedRun], running: Mapping[tuple[str, int | None], int]
) -> list[int]:
    """The queued runs that start now, in ``queued``'s order. ``running``: running runs per
    (DAG, backfill); backfill runs count against their backfill's limit only."""
    active = Counter(running)
    started = []
    for run in queued:
        key = (run.dag_id, run.backfill_id)
        if run.held or active[key] >= run.max_active_runs:
            continue
        active[key] += 1
        started.append(run.id)
    return started


class _MissingXCom(Exception):
    def __init__(self, key: XComKey) -> None:
        self.key = key


@dataclasses.dataclass
class _Pass:
    """What ``decide_run`` accumulates while it walks the run."""

    view: RunView
    now: datetime
    state: dict[int, str | None]
    by_task: dict[str, list[TiView]]
    changes: list[TiChange] = dataclasses.field(default_factory=list)
    expansions: list[Expansion] = dataclasses.field(default_factory=list)
    wake_at: datetime | None = None
    needs_xcoms: set[XComKey] = dataclasses.field(default_factory=set)
    needs_past: set[str] = dataclasses.field(default_factory=set)
    #: Ids for the instances an expansion creates, below zero until they are written.
    next_new_id: int = -1

    def change(self, ti: TiView, kind: ChangeKind, state: TIS, **values: Any) -> None:
        self.state[ti.id] = state.value
        self.changes.append(TiChange(ti.id, kind, state, **values))

    def wake(self, at: datetime | None) -> None:
        if at is not None and (self.wake_at is None or at < self.wake_at):
            self.wake_at = at


def decide_run(view: RunView, now: datetime) -> RunDecision:
    """The next state of every task instance of ``view``'s run, and the run's own."""
    dag = view.dag
    timeout = dag.dagrun_timeout
    if timeout is not None and view.start_date is not None and now - view.start_date > timeout:
        return RunDecision(
            changes=_stop_unfinished(view.tis, {ti.id: ti.state for ti in view.tis}),
            finished=DagRunState.FAILED,
            timed_out=True,
            to_terminate=tuple(ti.id for ti in view.tis if ti.state in _ACTIVE),
        )
    walk = _Pass(view, now, {}, defaultdict(list))
    if timeout is not None and view.start_date is not None:
        walk.wake(view.start_date + timeout)
    for ti in view.tis:
        walk.state[ti.id] = ti.state
        walk.by_task[ti.task_id].append(ti)
    for task_id, tis in walk.by_task.items():
        if task_id not in dag.task_dict:
            for ti in tis:
                if ti.state is None:
                    walk.change(ti, ChangeKind.REMOVE, TIS.REMOVED)
    for task_id in view.topological_order:
        task = dag.task_dict[task_id]
        for ti in list(walk.by_task.get(task_id, ())):
            _decide_ti(walk, task, ti)
    if walk.needs_xcoms or walk.needs_past:
        return RunDecision(
            needs_xcoms=frozenset(walk.needs_xcoms), needs_past=frozenset(walk.needs_past)
        )
    tis = [ti for tis in walk.by_task.values() for ti in tis]
    finished = run_state.decide_run_state(
        [(ti.task_id, TIS(s) if (s := walk.state[ti.id]) else None) for ti in tis],
        view.leaf_ids,
        fail_fast=dag.fail_fast,
    )
    changes = walk.changes
    expansions = walk.expansions
    to_terminate: tuple[int, ...] = ()
    if finished is DagRunState.FAILED and dag.fail_fast:
        to_terminate = tuple(ti.id for ti in tis if walk.state[ti.id] in _ACTIVE)
        changes = changes + list(_stop_unfinished(tis, walk.state))
        expansions = [dataclasses.replace(e, stopped=e.count > 1) for e in expansions]
    return RunDecision(
        changes=tuple(changes),
        expansions=tuple(expansions),
        finished=finished,
        to_terminate=to_terminate,
        wake_at=walk.wake_at,
    )


def _stop_unfinished(
    tis: tuple[TiView, ...] | list[TiView], state: Mapping[int, str | None]
) -> tuple[TiChange, ...]:
    return tuple(
        TiChange(ti.id, ChangeKind.STOP, TIS.SKIPPED)
        for ti in tis
        if ti.id > 0 and state[ti.id] not in _FINISHED
    )


def _decide_ti(walk: _Pass, task: Any, ti: TiView) -> None:
    state = ti.state
    if state == TIS.UP_FOR_RETRY.value:
        if retry_due(ti, walk.now):
            walk.change(ti, ChangeKind.SCHEDULE, TIS.SCHEDULED)
        else:
            walk.wake(ti.next_retry_at)
        return
    if state == TIS.UP_FOR_RESCHEDULE.value:
        if ti.reschedule_date is None or ti.reschedule_date <= walk.now:
            walk.change(ti, ChangeKind.SCHEDULE, TIS.SCHEDULED)
        else:
            walk.wake(ti.reschedule_date)
        return
    if state is not None:
        return
    upstream_states = [
        walk.state[other.id]
        for upstream_id in task.upstream_task_ids
        for other in walk.by_task.get(upstream_id, ())
    ]
    verdict = trigger_rules.evaluate(
        task.trigger_rule,
        trigger_rules.UpstreamCounts.from_states(upstream_states),
        map_index=ti.map_index,
    )
    if verdict is trigger_rules.Verdict.WAIT:
        return
    if verdict.settled_state is not None:
        walk.change(ti, ChangeKind.SETTLE, verdict.settled_state)
        return
    if task.is_mapped and ti.map_index == -1:
        _expand(walk, task, ti)
        return
    if task.depends_on_past:
        ok = past_ok(task, walk.view.past)
        if ok is None:
            walk.needs_past.update(past_task_ids(task))
        if not ok:
            return
    max_tries = ti.try_number + task.retries if (ti.try_number or 0) > 0 else None
    if getattr(task, "inherits_from_empty_operator", False) and not has_callbacks(task):
        try_number = (ti.try_number or 0) + 1
        walk.change(ti, ChangeKind.SUCCEED, TIS.SUCCESS, max_tries=max_tries, try_number=try_number)
        return
    walk.change(ti, ChangeKind.SCHEDULE, TIS.SCHEDULED, max_tries=max_tries)


def retry_due(ti: TiView, now: datetime) -> bool:
    """An up_for_retry instance runs again once its ``next_retry_at`` has passed."""
    return ti.next_retry_at is None or ti.next_retry_at <= now


def has_callbacks(task: Any) -> bool:
    """An empty task with callbacks must run them, so it is queued like any other."""
    return any(getattr(task, name, False) for name in _CALLBACKS)


def past_task_ids(task: Any) -> list[str]:
    """The tasks whose previous-run instances ``depends_on_past`` looks at."""
    ids = [task.task_id]
    if getattr(task, "wait_for_downstream", False):
        ids.extend(sorted(task.downstream_task_ids))
    return ids


def past_ok(task: Any, past: PastStates) -> bool | None:
    """``depends_on_past`` / ``wait_for_downstream``: the previous run's instances of the task
    (and of its direct downstream tasks) must have succeeded or been skipped. None when the
    states are not loaded."""
    if past.complete:
        return True
    ids = past_task_ids(task)
    if not past.loaded.issuperset(ids):
        return None
    return all(state in _PAST_OK for task_id in ids for state in past.states.get(task_id, ()))


def _expand(walk: _Pass, task: Any, placeholder: TiView) -> None:
    xcoms = walk.view.xcoms
    dag = walk.view.dag

    def pull(task_id: str, key: str) -> object:
        producer = dag.task_dict.get(task_id)
        xcom_key = (task_id, key, bool(producer is not None and producer.is_mapped))
        if xcom_key not in xcoms:
            raise _MissingXCom(xcom_key)
        value = xcoms[xcom_key]
        if isinstance(value, XComError):
            raise value.error
        return value

    try:
        count = len(task.resolve_expansion(pull))
    except _MissingXCom as missing:
        walk.needs_xcoms.add(missing.key)
        return
    except (TradewindError, TypeError, ValueError) as exc:
        walk.expansions.append(Expansion(placeholder.id, placeholder.task_id, 0, str(exc)))
        walk.change(placeholder, ChangeKind.SETTLE, TIS.FAILED)
        return
    walk.expansions.append(Expansion(placeholder.id, placeholder.task_id, count))
    if count == 0:
        walk.change(placeholder, ChangeKind.SETTLE, TIS.SKIPPED)
        return
    walk.change(placeholder, ChangeKind.SCHEDULE, TIS.SCHEDULED, map_index=0)
    # The other instances count as scheduled for the rest of this walk.
    created = walk.by_task[placeholder.task_id]
    for index in range(1, count):
        copy = dataclasses.replace(
            placeholder, id=walk.next_new_id, map_index=index, state=TIS.SCHEDULED.value
        )
        walk.next_new_id -= 1
        walk.state[copy.id] = TIS.SCHEDULED.value
        created.append(copy)
