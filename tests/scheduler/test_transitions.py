"""The allowed moves of every state machine, checked move by move against the table below,
and what each named transition sets besides the state."""

from __future__ import annotations

import datetime as dt
import itertools
from types import SimpleNamespace
from typing import Any

import pytest

from tradewind.db.models import BackfillState, JobState
from tradewind.exceptions import InvalidStateTransition
from tradewind.scheduler import run_transitions, transitions
from tradewind.scheduler.transitions import Transition
from tradewind.sdk.states import DagRunState, after_failed_try
from tradewind.sdk.states import TaskInstanceState as TIS

T0 = dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(seconds=30)

ALL_TI = ["none", *(state.value for state in TIS)]
#: The states a "*" source does not include.
NOT_FROM = {"skip_and_stop": {"skipped", "removed"}, "clear": {"queued", "running"}}

#: name: (from-states, to-states); "none" is no state, "*" every state.
TASK_INSTANCE_MOVES = {
    "schedule": ("none up_for_retry up_for_reschedule", "scheduled"),
    "settle": ("none", "skipped upstream_failed removed failed"),
    "succeed_empty": ("none", "success"),
    "remove": ("none scheduled", "removed"),
    "queue": ("scheduled", "queued"),
    "start": ("queued", "running"),
    "adopt": ("queued running", "running"),
    "finish": ("queued running", "success failed skipped up_for_retry up_for_reschedule"),
    "fail_or_retry": ("queued running", "up_for_retry failed"),
    "requeue_try": ("queued", "scheduled"),
    "run_in_process": ("none up_for_retry up_for_reschedule", "running"),
    "skip_and_stop": ("*", "skipped"),
    "mark": ("*", "success failed skipped"),
    "clear": ("*", "none"),
    "set_aside": (
        "none scheduled queued running up_for_retry up_for_reschedule deferred",
        "failed",
    ),
}
RUN_MOVES = {
    "start_run": ("queued", "running"),
    "finish_run": ("running", "success failed"),
    "requeue_run": ("success failed", "queued"),
    "mark_run": ("*", "queued success failed"),
    "cancel_run": ("queued", "failed"),
    "set_aside_run": ("queued running", "failed"),
}
BACKFILL_MOVES = {
    "pause": ("running paused", "running paused"),
    "cancel": ("running paused", "cancelled"),
    "complete": ("running paused", "completed"),
}
JOB_MOVES = {
    "beat": ("*", "running"),
    "declare_dead": ("running", "failed"),
    "end_job": ("*", "success"),
}


def _states(words: str, every: list[str]) -> set[str]:
    return set(every) if words == "*" else set(words.split())


def _cases(
    table: dict[str, tuple[str, str]], steps: dict[str, Transition], every: list[str], enum: type
) -> list[Any]:
    assert set(steps) == set(table)  # a transition added or removed must be added here
    return [
        pytest.param(steps[name], sources, targets, every, enum, id=name)
        for name, (sources, targets) in table.items()
    ]


@pytest.mark.parametrize(
    ("step", "sources", "targets", "every", "enum"),
    _cases(TASK_INSTANCE_MOVES, transitions.TASK_INSTANCE, ALL_TI, TIS)
    + _cases(RUN_MOVES, run_transitions.RUN, [s.value for s in DagRunState], DagRunState)
    + _cases(
        BACKFILL_MOVES, run_transitions.BACKFILL, [s.value for s in BackfillState], BackfillState
    )
    + _cases(JOB_MOVES, run_transitions.JOB, [s.value for s in JobState], JobState),
)
def test_allowed_moves(
    step: Transition, sources: str, targets: str, every: list[str], enum: type
) -> None:
    """Every (from, to) pair: moved when the table allows it, refused (state unchanged) if not."""
    allowed = set(
        itertools.product(
            _states(sources, every) - NOT_FROM.get(step.name, set()), _states(targets, every)
        )
    )
    wrong = []
    for source, target in itertools.product(every, every):
        obj = SimpleNamespace(id=7, state=_state(source, enum))
        try:
            transitions.move(obj, step, _state(target, enum))
            moved = obj.state == _state(target, enum)
        except InvalidStateTransition as exc:
            assert str(exc).startswith(f"{step.name}: ")
            assert obj.state == _state(source, enum)
            moved = False
        if moved != ((source, target) in allowed):
            wrong.append((source, target, "moved" if moved else "refused"))
    assert wrong == []


def _state(word: str, enum: type) -> Any:
    return None if word == "none" else enum(word)


def test_a_refused_move_says_what_and_changes_nothing() -> None:
    ti = SimpleNamespace(id=3, state=TIS.SUCCESS, try_number=1, reschedule_date=None)
    with pytest.raises(
        InvalidStateTransition, match="^queue: SimpleNamespace 3 cannot go from success to queued$"
    ):
        transitions.queue(ti, retries=2, now=T0, job_id=1)
    assert (ti.state, ti.try_number) == (TIS.SUCCESS, 1)


# -- the decision a failed try shares between the task process and the scheduler ----------


@pytest.mark.parametrize(
    ("try_number", "max_tries", "retryable", "expected"),
    [
        (1, 0, True, TIS.FAILED),
        (1, 1, True, TIS.UP_FOR_RETRY),
        (2, 1, True, TIS.FAILED),
        (3, 5, True, TIS.UP_FOR_RETRY),
        (1, 1, False, TIS.FAILED),
    ],
)
def test_after_failed_try(try_number: int, max_tries: int, retryable: bool, expected: TIS) -> None:
    assert after_failed_try(try_number, max_tries, retryable=retryable) is expected


# -- what named transitions set besides the state -------------------------------------------


def _ti(**values: Any) -> SimpleNamespace:
    fields = {
        "id": 1,
        "state": None,
        "try_number": 0,
        "max_tries": 0,
        "start_date": None,
        "end_date": None,
        "duration": None,
        "reschedule_date": None,
        "next_retry_at": None,
        "queued_by_job_id": None,
        "pid": None,
    }
    return SimpleNamespace(**{**fields, **values})


def test_queue_starts_a_new_try_with_the_tasks_retries() -> None:
    ti = _ti(state=TIS.SCHEDULED, start_date=T0, end_date=T1, duration=3.0)
    assert transitions.queue(ti, retries=2, now=T1, job_id=9) is True
    assert (ti.state, ti.try_number, ti.max_tries) == (TIS.QUEUED, 1, 2)
    assert (ti.start_date, ti.end_date, ti.duration) == (None, None, None)
    assert (ti.queued_dttm, ti.queued_by_job_id) == (T1, 9)


def test_queue_keeps_a_rescheduled_sensors_try_and_start() -> None:
    ti = _ti(state=TIS.SCHEDULED, try_number=2, max_tries=3, start_date=T0, reschedule_date=T1)
    assert transitions.queue(ti, retries=5, now=T1, job_id=9) is False
    assert (ti.try_number, ti.max_tries, ti.start_date) == (2, 3, T0)


def test_requeue_try_gives_the_unused_try_back_unless_a_sensor_continues() -> None:
    ti = _ti(state=TIS.QUEUED, try_number=2, queued_by_job_id=4)
    transitions.requeue_try(ti)
    assert (ti.state, ti.try_number, ti.queued_by_job_id) == (TIS.SCHEDULED, 1, None)
    sensor = _ti(state=TIS.QUEUED, try_number=2, reschedule_date=T0)
    transitions.requeue_try(sensor)
    assert sensor.try_number == 2


@pytest.mark.parametrize(("try_number", "expected"), [(1, TIS.UP_FOR_RETRY), (2, TIS.FAILED)])
def test_fail_or_retry(try_number: int, expected: TIS) -> None:
    ti = _ti(state=TIS.RUNNING, try_number=try_number, max_tries=1, start_date=T0, pid=42)
    ti.reschedule_date = T0
    retry_at = T1 + dt.timedelta(minutes=5)
    assert transitions.fail_or_retry(ti, now=T1, retry_at=lambda: retry_at) is expected
    assert (ti.state, ti.end_date, ti.duration, ti.pid) == (expected, T1, 30.0, None)
    assert ti.reschedule_date is None
    assert ti.next_retry_at == (retry_at if expected is TIS.UP_FOR_RETRY else None)


def test_finish_a_rescheduled_sensor_has_no_end_date() -> None:
    ti = _ti(state=TIS.RUNNING, start_date=T0, pid=42)
    later = T1 + dt.timedelta(minutes=1)
    transitions.finish(ti, TIS.UP_FOR_RESCHEDULE, start=T1, end=T1, reschedule_date=later)
    assert (ti.state, ti.start_date, ti.end_date, ti.duration) == (
        TIS.UP_FOR_RESCHEDULE,
        T0,
        None,
        30.0,
    )
    assert (ti.reschedule_date, ti.pid) == (later, None)


def test_finish_asks_for_the_retry_time_only_when_retrying() -> None:
    asked: list[bool] = []

    def retry_at() -> dt.datetime:
        asked.append(True)
        return T1

    done = _ti(state=TIS.QUEUED)
    transitions.finish(done, TIS.SUCCESS, start=T0, end=T1, retry_at=retry_at)
    assert (done.state, done.start_date, done.duration, asked) == (TIS.SUCCESS, T0, 30.0, [])
    retried = _ti(state=TIS.RUNNING)
    transitions.finish(retried, TIS.UP_FOR_RETRY, start=T0, end=T1, retry_at=retry_at)
    assert (retried.next_retry_at, asked) == (T1, [True])


def test_skip_and_stop_stops_only_live_tries() -> None:
    stop: list[int] = []
    for ti_id, state in enumerate([TIS.RUNNING, TIS.QUEUED, TIS.UP_FOR_RETRY, None, TIS.SUCCESS]):
        ti = _ti(id=ti_id, state=state, next_retry_at=T0, reschedule_date=T0)
        transitions.skip_and_stop(ti, T1, stop)
        assert (ti.state, ti.end_date, ti.next_retry_at, ti.reschedule_date) == (
            TIS.SKIPPED,
            T1,
            None,
            None,
        )
    assert stop == [0, 1]


def test_mark_keeps_known_times() -> None:
    ti = _ti(state=TIS.RUNNING, start_date=T0, next_retry_at=T0)
    transitions.mark(ti, TIS.FAILED, T1)
    assert (ti.state, ti.start_date, ti.end_date, ti.duration) == (TIS.FAILED, T0, T1, 30.0)
    assert ti.next_retry_at is None


def test_clear_keeps_the_try_number() -> None:
    ti = _ti(state=TIS.FAILED, try_number=3, pid=5, next_retry_at=T0, external_executor_id="x")
    transitions.clear(ti)
    assert (ti.state, ti.try_number, ti.pid, ti.next_retry_at, ti.external_executor_id) == (
        None,
        3,
        None,
        None,
        None,
    )


def test_adopt_records_the_start_of_a_try_never_recorded() -> None:
    queued = _ti(state=TIS.QUEUED, hostname=None)
    transitions.adopt(queued, pid=11, hostname="h", started=T0, job_id=2, now=T1)
    assert (queued.state, queued.pid, queued.hostname, queued.start_date) == (
        TIS.RUNNING,
        11,
        "h",
        T0,
    )
    running = _ti(state=TIS.RUNNING, pid=11, hostname="h", start_date=T0)
    transitions.adopt(running, pid=11, hostname="h", started=T1, job_id=2, now=T1)
    assert (running.start_date, running.queued_by_job_id, running.last_heartbeat_at) == (
        T0,
        2,
        T1,
    )


def _run(state: DagRunState) -> SimpleNamespace:
    return SimpleNamespace(
        id=1,
        state=state,
        clear_number=0,
        queued_at=None,
        start_date=T0,
        end_date=T1,
        last_scheduling_decision=T1,
    )


def test_requeue_run_only_requeues_finished_runs() -> None:
    running = _run(DagRunState.RUNNING)
    assert run_transitions.requeue_run(running, T1) is False
    assert running.state is DagRunState.RUNNING
    done = _run(DagRunState.FAILED)
    assert run_transitions.requeue_run(done, T1) is True
    assert (done.state, done.clear_number, done.queued_at, done.start_date, done.end_date) == (
        DagRunState.QUEUED,
        1,
        T1,
        None,
        None,
    )


def test_mark_run_failed_fails_running_tries_and_skips_unfinished_ones() -> None:
    states = [TIS.RUNNING, TIS.UP_FOR_RESCHEDULE, TIS.QUEUED, None, TIS.SUCCESS, TIS.FAILED]
    tis = [_ti(id=i, state=state) for i, state in enumerate(states)]
    run = _run(DagRunState.RUNNING)
    run_transitions.mark_run(run, tis, DagRunState.FAILED, T1)
    assert [ti.state for ti in tis] == [
        TIS.FAILED,
        TIS.FAILED,
        TIS.SKIPPED,
        TIS.SKIPPED,
        TIS.SUCCESS,
        TIS.FAILED,
    ]
    assert (run.state, run.end_date) == (DagRunState.FAILED, T1)


def test_mark_run_queued_changes_only_the_run() -> None:
    ti = _ti(state=TIS.FAILED)
    run = _run(DagRunState.FAILED)
    run_transitions.mark_run(run, [ti], DagRunState.QUEUED, T1)
    assert (run.state, run.queued_at, run.end_date, run.last_scheduling_decision) == (
        DagRunState.QUEUED,
        T1,
        None,
        None,
    )
    assert ti.state is TIS.FAILED
