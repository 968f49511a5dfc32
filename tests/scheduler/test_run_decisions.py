"""``decide_run``: what one pass decides for one run, from plain values, no database.

Each DAG goes through serialization first, so the decisions see the tasks the scheduler sees.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from tradewind import DAG, EmptyOperator, PythonOperator, task
from tradewind.scheduler.run_decisions import (
    ChangeKind,
    Expansion,
    PastStates,
    QueuedRun,
    RunDecision,
    RunView,
    TiView,
    XComError,
    decide_run,
    runs_to_start,
)
from tradewind.sdk.states import DagRunState
from tradewind.sdk.states import TaskInstanceState as TIS
from tradewind.serialization import dags as serialized

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
S, F, SK, UF = "success", "failed", "skipped", "upstream_failed"


def _noop() -> None:
    return None


def _scheduled_dag(dag: DAG) -> DAG:
    return serialized.deserialize_dag(serialized.dumps(dag))


def view(dag: DAG, states: dict[str, str | None], **fields: object) -> RunView:
    """A view of ``dag``'s run: task ids (``task`` or ``task[2]``) with their states."""
    dag = _scheduled_dag(dag)
    tis = []
    for number, (key, state) in enumerate(states.items(), start=1):
        task_id, _, index = key.partition("[")
        tis.append(
            TiView(number, task_id, int(index[:-1]) if index else -1, state, 0, 0, None, None)
        )
    return RunView(
        dag=dag,
        topological_order=tuple(t.task_id for t in dag.topological_sort()),
        leaf_ids=frozenset(t.task_id for t in dag.leaves),
        start_date=NOW - timedelta(minutes=1),
        tis=tuple(tis),
        past=PastStates(complete=True),
        **fields,  # type: ignore[arg-type]
    )


def outcome(run: RunView, decision: RunDecision) -> dict[str, tuple[ChangeKind, str]]:
    names = {ti.id: ti.task_id for ti in run.tis}
    return {names[c.ti_id]: (c.kind, c.state.value) for c in decision.changes}


def chain(*, a_retries: int = 0, b_rule: str = "all_success", fail_fast: bool = False) -> DAG:
    with DAG("chain", schedule=None, fail_fast=fail_fast) as dag:
        a = PythonOperator(task_id="a", python_callable=_noop, retries=a_retries)
        b = PythonOperator(task_id="b", python_callable=_noop, trigger_rule=b_rule)
        c = PythonOperator(task_id="c", python_callable=_noop)
        a >> b >> c
    return dag


SCH, SET = ChangeKind.SCHEDULE, ChangeKind.SETTLE


@pytest.mark.parametrize(
    ("states", "b_rule", "expected", "finished"),
    [
        # nothing ran yet: the root is scheduled, the rest waits
        ({"a": None, "b": None, "c": None}, "all_success", {"a": (SCH, "scheduled")}, None),
        ({"a": S, "b": None, "c": None}, "all_success", {"b": (SCH, "scheduled")}, None),
        # a failure propagates down the whole graph in one pass, and decides the run
        (
            {"a": F, "b": None, "c": None},
            "all_success",
            {"b": (SET, UF), "c": (SET, UF)},
            DagRunState.FAILED,
        ),
        # so does a skip
        (
            {"a": SK, "b": None, "c": None},
            "all_success",
            {"b": (SET, SK), "c": (SET, SK)},
            DagRunState.SUCCESS,
        ),
        # all_done runs after a failure; what follows it waits for it
        ({"a": F, "b": None, "c": None}, "all_done", {"b": (SCH, "scheduled")}, None),
        ({"a": "running", "b": None, "c": None}, "all_done", {}, None),
        ({"a": S, "b": S, "c": S}, "all_success", {}, DagRunState.SUCCESS),
    ],
)
def test_trigger_rules_in_topological_order(
    states: dict[str, str | None],
    b_rule: str,
    expected: dict[str, tuple[ChangeKind, str]],
    finished: DagRunState | None,
) -> None:
    run = view(chain(b_rule=b_rule), states)
    decision = decide_run(run, NOW)
    assert outcome(run, decision) == expected
    assert decision.finished is finished
    assert decision.complete


@pytest.mark.parametrize(
    ("state", "field", "at", "scheduled", "wake_at"),
    [
        ("up_for_retry", "next_retry_at", None, True, None),
        ("up_for_retry", "next_retry_at", NOW - timedelta(seconds=1), True, None),
        ("up_for_retry", "next_retry_at", NOW, True, None),
        ("up_for_retry", "next_retry_at", NOW + timedelta(seconds=30), False, 30),
        ("up_for_reschedule", "reschedule_date", NOW, True, None),
        ("up_for_reschedule", "reschedule_date", NOW + timedelta(seconds=5), False, 5),
    ],
)
def test_retries_and_reschedules_are_due_at_their_time(
    state: str, field: str, at: datetime | None, scheduled: bool, wake_at: int | None
) -> None:
    run = view(chain(a_retries=2), {"a": state, "b": None, "c": None})
    run = dataclasses.replace(
        run, tis=(dataclasses.replace(run.tis[0], **{field: at}),) + run.tis[1:]
    )
    decision = decide_run(run, NOW)
    assert outcome(run, decision) == ({"a": (SCH, "scheduled")} if scheduled else {})
    assert decision.wake_at == (None if wake_at is None else NOW + timedelta(seconds=wake_at))


def test_a_cleared_instance_gets_its_retries_afresh() -> None:
    run = view(chain(a_retries=3), {"a": None, "b": None, "c": None})
    run = dataclasses.replace(
        run, tis=(dataclasses.replace(run.tis[0], try_number=2),) + run.tis[1:]
    )
    (change,) = decide_run(run, NOW).changes
    assert (change.kind, change.max_tries) == (SCH, 5)


def test_an_empty_task_succeeds_without_running_unless_it_has_callbacks() -> None:
    with DAG("empties", schedule=None) as dag:
        EmptyOperator(task_id="plain")
        EmptyOperator(task_id="noisy", on_success_callback=lambda context: None)
    run = view(dag, {"plain": None, "noisy": None})
    decision = decide_run(run, NOW)
    assert outcome(run, decision) == {"plain": (ChangeKind.SUCCEED, S), "noisy": (SCH, "scheduled")}
    assert [c.try_number for c in decision.changes if c.kind is ChangeKind.SUCCEED] == [1]


def test_tasks_gone_from_the_dag_are_removed() -> None:
    run = view(chain(), {"a": S, "b": None, "c": None, "gone": None})
    assert outcome(run, decide_run(run, NOW))["gone"] == (ChangeKind.REMOVE, "removed")


def past_dag(*, wait_for_downstream: bool = False) -> DAG:
    with DAG("past", schedule=None) as dag:
        a = PythonOperator(
            task_id="a",
            python_callable=_noop,
            depends_on_past=True,
            wait_for_downstream=wait_for_downstream,
        )
        a >> PythonOperator(task_id="b", python_callable=_noop)
    return dag


@pytest.mark.parametrize(
    ("past", "wait_for_downstream", "scheduled", "needs"),
    [
        (PastStates(complete=True), False, True, set()),
        (PastStates(), False, False, {"a"}),
        (PastStates(), True, False, {"a", "b"}),
        (PastStates(loaded=frozenset({"a"}), states={"a": (S,)}), False, True, set()),
        (PastStates(loaded=frozenset({"a"}), states={"a": (SK,)}), False, True, set()),
        (PastStates(loaded=frozenset({"a"}), states={"a": (F,)}), False, False, set()),
        (PastStates(loaded=frozenset({"a"}), states={"a": (None,)}), False, False, set()),
        # the previous run has no instance of the task: nothing holds it back
        (PastStates(loaded=frozenset({"a"})), False, True, set()),
        (PastStates(loaded=frozenset({"a"}), states={"a": (S,)}), True, False, {"a", "b"}),
        (
            PastStates(loaded=frozenset({"a", "b"}), states={"a": (S,), "b": ("running",)}),
            True,
            False,
            set(),
        ),
        (
            PastStates(loaded=frozenset({"a", "b"}), states={"a": (S,), "b": (S,)}),
            True,
            True,
            set(),
        ),
    ],
)
def test_depends_on_past(
    past: PastStates, wait_for_downstream: bool, scheduled: bool, needs: set[str]
) -> None:
    run = view(past_dag(wait_for_downstream=wait_for_downstream), {"a": None, "b": None})
    decision = decide_run(dataclasses.replace(run, past=past), NOW)
    assert decision.needs_past == needs
    assert outcome(run, decision) == ({"a": (SCH, "scheduled")} if scheduled else {})


def mapped_dag() -> DAG:
    with DAG("mapped", schedule=None) as dag:

        @task
        def numbers() -> list[int]:
            return [1, 2, 3]

        @task
        def double(x: int) -> int:
            return 2 * x

        double.expand(x=numbers()) >> PythonOperator(task_id="after", python_callable=_noop)
    return dag


MAPPED = {"numbers": S, "double": None, "after": None}
XCOM = ("numbers", "return_value", False)


def test_expanding_asks_for_the_xcoms_it_expands_over() -> None:
    decision = decide_run(view(mapped_dag(), MAPPED), NOW)
    assert decision.needs_xcoms == {XCOM}
    assert not decision.changes and decision.finished is None


@pytest.mark.parametrize(
    ("value", "placeholder", "expansion"),
    [
        ([1, 2, 3], (SCH, "scheduled"), Expansion(2, "double", 3)),
        ([7], (SCH, "scheduled"), Expansion(2, "double", 1)),
        ([], (SET, SK), Expansion(2, "double", 0)),
        (5, (SET, F), None),  # not a list: the expansion fails
        (XComError(ValueError("bad json")), (SET, F), Expansion(2, "double", 0, "bad json")),
    ],
)
def test_mapped_expansion(
    value: object, placeholder: tuple[ChangeKind, str], expansion: Expansion | None
) -> None:
    run = view(mapped_dag(), MAPPED, xcoms={XCOM: value})
    decision = decide_run(run, NOW)
    assert outcome(run, decision)["double"] == placeholder
    (made,) = decision.expansions
    if expansion is not None:
        assert made == expansion
    else:
        assert made.count == 0 and made.error
    if placeholder[0] is SCH:
        assert decision.changes[0].map_index == 0


def test_the_new_mapped_instances_hold_back_the_downstream_and_the_run() -> None:
    run = view(mapped_dag(), MAPPED, xcoms={XCOM: [1, 2]})
    decision = decide_run(run, NOW)
    assert "after" not in outcome(run, decision) and decision.finished is None


def test_fail_fast_stops_every_unfinished_instance() -> None:
    run = view(
        chain(fail_fast=True, b_rule="all_done"),
        {"a": F, "b": None, "c": None} | {"other": "running"},
    )
    decision = decide_run(run, NOW)
    assert decision.finished is DagRunState.FAILED
    stopped = {c.ti_id for c in decision.changes if c.kind is ChangeKind.STOP}
    assert stopped == {2, 3, 4} and decision.to_terminate == (4,)


def test_a_run_past_its_timeout_fails_and_stops_its_tasks() -> None:
    with DAG("slow", schedule=None, dagrun_timeout=timedelta(minutes=5)) as dag:
        PythonOperator(task_id="a", python_callable=_noop) >> PythonOperator(
            task_id="b", python_callable=_noop
        )
    run = view(dag, {"a": "running", "b": None})
    assert decide_run(run, NOW).wake_at == run.start_date + timedelta(minutes=5)  # type: ignore[operator]
    late = decide_run(run, NOW + timedelta(minutes=5))
    assert (late.finished, late.timed_out, late.to_terminate) == (DagRunState.FAILED, True, (1,))
    assert outcome(run, late) == {"a": (ChangeKind.STOP, SK), "b": (ChangeKind.STOP, SK)}


def test_the_leaves_decide_the_run() -> None:
    with DAG("leaves", schedule=None) as dag:
        work = PythonOperator(task_id="work", python_callable=_noop)
        work >> PythonOperator(task_id="cleanup", python_callable=_noop, trigger_rule="all_done")
    assert decide_run(view(dag, {"work": F, "cleanup": S}), NOW).finished is DagRunState.SUCCESS
    assert decide_run(view(dag, {"work": S, "cleanup": F}), NOW).finished is DagRunState.FAILED
    assert TIS.SUCCESS.value == S


def queued(
    run_id: int, dag_id: str = "d", backfill: int | None = None, limit: int = 2, held: bool = False
) -> QueuedRun:
    return QueuedRun(run_id, dag_id, backfill, limit, held=held)


@pytest.mark.parametrize(
    ("candidates", "running", "started"),
    [
        ([queued(1), queued(2), queued(3)], {}, [1, 2]),
        ([queued(1), queued(2)], {("d", None): 2}, []),
        ([queued(1), queued(2, "e", limit=1), queued(3, "e", limit=1)], {("d", None): 1}, [1, 2]),
        # backfill runs count against their backfill's limit only
        (
            [queued(1, backfill=7, limit=1), queued(2, backfill=7, limit=1), queued(3)],
            {("d", None): 1},
            [1, 3],
        ),
        # a paused backfill holds its runs; the others still start
        ([queued(1, backfill=7, held=True), queued(2)], {}, [2]),
    ],
)
def test_runs_to_start(
    candidates: list[QueuedRun], running: dict[tuple[str, int | None], int], started: list[int]
) -> None:
    assert runs_to_start(candidates, running) == started
