"""``LocalDagRun`` (``tradewind dags test``): whole runs end with the states Airflow gives.

The DAG files under ``tests/dags`` are written the way an Airflow user writes them; each test
states the exact final states Airflow 2.x/3.x gives for them, with the reason when it is not
obvious.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tradewind import (
    DAG,
    EmptyOperator,
    FailTask,
    Param,
    PythonOperator,
    PythonSensor,
    SkipTask,
    task,
)
from tradewind.dag_processing import dag_bag
from tradewind.exceptions import ParamValidationError
from tradewind.runner.xcom_store import InMemoryXComStore
from tradewind.scheduler import retries, run_state
from tradewind.sdk.states import DagRunState, TaskInstanceState
from tradewind.services.dag_test import DagTestResult, LocalDagRun, make_run_info

DAGS = Path(__file__).resolve().parents[1] / "dags"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FRIDAY = datetime(2024, 3, 1)
SATURDAY = datetime(2024, 3, 2)


def run(
    dag: DAG, *, conf: dict[str, Any] | None = None, logical_date: datetime = FRIDAY, **kwargs: Any
) -> DagTestResult:
    kwargs.setdefault("use_retry_delay", False)
    return LocalDagRun(dag, make_run_info(dag, logical_date, conf or {}), **kwargs).execute()


def states(result: DagTestResult) -> dict[str, str | None]:
    return {ti.key: ti.state.value if ti.state else None for ti in result.task_instances}


def tries(result: DagTestResult) -> dict[str, int]:
    return {ti.key: ti.try_number for ti in result.task_instances}


def load(dag_id: str, folder: Path = DAGS) -> DAG:
    dag, bag = dag_bag.load_dag(folder, dag_id)
    assert dag is not None, [p.message for p in bag.problems]
    return dag


# -- the Airflow-style DAG files ----------------------------------------------------------------


def test_branch_with_joins() -> None:
    result = run(load("branch_join"))
    assert states(result) == {
        "start": "success",
        "choose_source": "success",
        "from_api": "success",
        "from_db": "skipped",
        "join": "success",  # none_failed_min_one_success
        "strict_join": "skipped",  # all_success with a skipped upstream
        "after_strict_join": "skipped",  # the skip propagates
        "report": "success",  # all_done runs after skipped upstreams
    }
    assert result.state is DagRunState.SUCCESS
    assert tries(result)["from_db"] == 0


def test_branch_keeps_tasks_reachable_from_the_followed_branch() -> None:
    result = run(load("branch_empty_path"))
    assert states(result) == {
        "branch": "success",
        "work": "success",
        "other": "skipped",
        "join": "success",
    }


def test_short_circuit_respecting_downstream_trigger_rules() -> None:
    result = run(load("short_circuit_respect_rules"), logical_date=SATURDAY)
    assert states(result) == {
        "check": "success",
        "transform": "skipped",  # the only task the short-circuit skips itself
        "load": "skipped",  # all_success after a skipped task
        "notify": "success",  # all_done
        "independent": "success",
        "cleanup": "success",  # none_failed: skipped + success
    }
    assert result.state is DagRunState.SUCCESS


def test_short_circuit_ignoring_downstream_trigger_rules() -> None:
    result = run(load("short_circuit_ignore_rules"), logical_date=SATURDAY)
    assert states(result) == {
        "check": "success",
        "transform": "skipped",
        "load": "skipped",
        "notify": "skipped",  # skipped although all_done: every downstream task is skipped
        "independent": "success",
        "cleanup": "skipped",
    }
    assert result.state is DagRunState.SUCCESS


@pytest.mark.parametrize("dag_id", ["short_circuit_respect_rules", "short_circuit_ignore_rules"])
def test_short_circuit_with_a_true_condition_skips_nothing(dag_id: str) -> None:
    result = run(load(dag_id), logical_date=FRIDAY)
    assert set(states(result).values()) == {"success"}


def test_short_circuit_decorator_passes_on_truthy_value() -> None:
    assert states(run(load("short_circuit_pass"))) == {"has_rows": "success", "process": "success"}


def test_mapping_over_upstream_output() -> None:
    xcoms = InMemoryXComStore()
    dag = load("mapped_files")
    result = run(dag, xcoms=xcoms)
    assert states(result) == {
        "list_files": "success",
        "count_lines[0]": "success",
        "count_lines[1]": "success",
        "count_lines[2]": "success",
        "total": "success",
        "echo_file[0]": "success",
        "echo_file[1]": "success",
    }
    run_id = result.run_id
    names = ["a_2024-03-01.csv", "bb_2024-03-01.csv", "ccc_2024-03-01.csv"]
    assert xcoms.get_mapped("mapped_files", run_id, "count_lines", "return_value") == [
        len(n) * 10 for n in names
    ]
    assert xcoms.get("mapped_files", run_id, "total", -1, "return_value") == sum(
        len(n) * 10 for n in names
    )
    assert xcoms.get_mapped("mapped_files", run_id, "echo_file", "return_value") == ["a", "b"]


def test_mapping_over_nothing_skips_the_mapped_task() -> None:
    xcoms = InMemoryXComStore()
    result = run(load("mapped_nothing"), xcoms=xcoms)
    assert states(result) == {
        "list_files": "success",
        "count_lines": "skipped",  # one task instance, no map index
        "total": "skipped",
        "report": "success",
    }
    assert tries(result)["count_lines"] == 0
    assert xcoms.get("mapped_nothing", result.run_id, "report", -1, "return_value") == 0
    assert result.state is DagRunState.SUCCESS


def test_one_failed_mapped_element_fails_the_downstream() -> None:
    result = run(load("mapped_partial_failure"))
    assert states(result) == {
        "count_lines[0]": "success",
        "count_lines[1]": "failed",
        "count_lines[2]": "success",
        "total": "upstream_failed",
    }
    assert result.state is DagRunState.FAILED


def test_task_groups() -> None:
    result = run(load("task_groups"))
    assert states(result) == {
        "start": "success",
        "extract.orders": "success",
        "extract.customers": "success",
        "transform.clean.dedupe": "success",
        "transform.validate": "success",
        "region.tag": "success",
        "region__1.tag": "success",
        "end": "success",
    }
    assert tries(result)["transform.validate"] == 2  # retried thanks to the group's default_args


def test_retries_then_success() -> None:
    result = run(load("retries_then_success"))
    assert states(result) == {"flaky_download": "success", "parse": "success"}
    assert tries(result) == {"flaky_download": 3, "parse": 1}
    assert result.state is DagRunState.SUCCESS


def test_retries_exhausted_and_fail_task() -> None:
    result = run(load("retries_exhausted"))
    assert states(result) == {
        "always_fails": "failed",
        "fail_fast_task": "failed",
        "after": "upstream_failed",
    }
    assert tries(result) == {"always_fails": 2, "fail_fast_task": 1, "after": 0}
    assert result.state is DagRunState.FAILED


def test_failure_with_cleanup_and_alert_leaves_decide_the_run() -> None:
    result = run(load("failure_with_cleanup"))
    assert states(result) == {
        "extract": "success",
        "transform": "failed",
        "load": "upstream_failed",
        "alert": "success",
        "cleanup": "success",
    }
    # Airflow decides the run from its leaves: cleanup and alert succeeded.
    assert result.state is DagRunState.SUCCESS


def test_failed_leaf_fails_the_run() -> None:
    result = run(load("failure_fails_run"))
    assert states(result) == {
        "extract": "success",
        "transform": "failed",
        "load": "upstream_failed",
        "alert": "success",
        "alert_not_needed": "skipped",
    }
    assert result.state is DagRunState.FAILED


def test_bash_and_sensors_with_templating(tmp_path: Path) -> None:
    xcoms = InMemoryXComStore()
    result = run(load("sensors_bash"), conf={"workdir": str(tmp_path)}, xcoms=xcoms)
    assert states(result) == {
        "write_marker": "success",
        "wait_for_marker": "success",
        "wait_for_three_pokes": "success",
        "after_interval": "success",
        "report": "success",
        "weekend_only": "skipped",  # exit code 99 on a Friday
    }
    assert (tmp_path / "ready_20240301.txt").read_text() == "2024-03-01\n"
    assert (tmp_path / "pokes.log").read_text().count("poke") == 3
    assert tries(result)["wait_for_three_pokes"] == 1  # reschedules are not new tries
    report = xcoms.get("sensors_bash", result.run_id, "report", -1, "return_value")
    assert report == "marker says 2024-03-01, next day 2024-03-02"


def test_every_dag_file_in_the_fixture_folder_loads() -> None:
    bag = dag_bag.load_folder(DAGS)
    assert bag.problems == []
    assert len(bag.dags) == 14


# -- every trigger rule through a whole run --------------------------------------------------


def _fail() -> None:
    raise FailTask("failing on purpose")


def _skip() -> None:
    raise SkipTask("skipping on purpose")


def _upstream(kind: str, index: int) -> Any:
    task_id = f"up{index}"
    if kind == "success":
        return EmptyOperator(task_id=task_id)
    if kind == "failed":
        return PythonOperator(task_id=task_id, python_callable=_fail)
    if kind == "skipped":
        return PythonOperator(task_id=task_id, python_callable=_skip)
    assert kind == "upstream_failed"
    source = PythonOperator(task_id=f"source{index}", python_callable=_fail)
    return source >> EmptyOperator(task_id=task_id)


S, F, SK, UF = "success", "failed", "skipped", "upstream_failed"
RULE_RUNS = [
    ("all_success", [S, S], S),
    ("all_success", [S, F], UF),
    ("all_success", [S, SK], SK),
    ("all_success", [SK, UF], UF),
    ("all_failed", [F, UF], S),
    ("all_failed", [F, S], SK),
    ("all_failed", [F, SK], SK),
    ("all_done", [S, F, SK, UF], S),
    ("all_done_min_one_success", [S, F], S),
    ("all_done_min_one_success", [S, SK], SK),
    ("all_done_min_one_success", [F, UF], UF),
    ("all_skipped", [SK, SK], S),
    ("all_skipped", [SK, S], SK),
    ("one_success", [S, F], S),
    ("one_success", [SK, SK], SK),
    ("one_success", [F, SK], UF),
    ("one_failed", [F, S], S),
    ("one_failed", [UF, S], S),
    ("one_failed", [S, SK], SK),
    ("one_done", [F, SK], S),
    ("one_done", [SK, UF], SK),
    ("none_failed", [S, SK], S),
    ("none_failed", [SK, SK], S),
    ("none_failed", [S, F], UF),
    ("none_failed_min_one_success", [S, SK], S),
    ("none_failed_min_one_success", [SK, SK], SK),
    ("none_failed_min_one_success", [S, UF], UF),
    ("none_skipped", [S, F], S),
    ("none_skipped", [S, SK], SK),
    ("always", [F, SK], S),
]


@pytest.mark.parametrize(
    ("rule", "upstream", "expected"), RULE_RUNS, ids=[f"{r}-{'+'.join(u)}" for r, u, _ in RULE_RUNS]
)
def test_trigger_rule_in_a_run(rule: str, upstream: list[str], expected: str) -> None:
    with DAG(f"rule_{rule}", schedule=None) as dag:
        target = EmptyOperator(task_id="target", trigger_rule=rule)
        after = EmptyOperator(task_id="after")
        [_upstream(kind, index) for index, kind in enumerate(upstream)] >> target >> after
    result = states(run(dag))
    assert [result[f"up{i}"] for i in range(len(upstream))] == upstream
    assert result["target"] == expected
    # what follows the target sees it like any other upstream
    assert result["after"] == {S: S, SK: SK, UF: UF}[expected]


# -- retries, reschedules and timeouts -----------------------------------------------------------


class SleepRecorder:
    """Records the waits of the run loop and really waits them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


def _flaky_dag(retry_delay: timedelta) -> DAG:
    with DAG("flaky", schedule=None) as dag:

        @task(retries=1, retry_delay=retry_delay)
        def flaky(ti=None):
            if ti.try_number == 1:
                raise RuntimeError("first try fails")
            return ti.try_number

        flaky()
    return dag


def test_retry_waits_for_retry_delay() -> None:
    sleep = SleepRecorder()
    started = time.monotonic()
    result = run(_flaky_dag(timedelta(seconds=0.2)), use_retry_delay=True, sleep=sleep)
    assert states(result) == {"flaky": "success"} and tries(result) == {"flaky": 2}
    assert time.monotonic() - started >= 0.2
    assert sleep.waits and sum(sleep.waits) <= 0.25


def test_no_retry_delay_retries_at_once() -> None:
    sleep = SleepRecorder()
    result = run(_flaky_dag(timedelta(hours=1)), use_retry_delay=False, sleep=sleep)
    assert tries(result) == {"flaky": 2}
    assert sleep.waits == []


@pytest.mark.parametrize("use_retry_delay", [True, False])
def test_reschedule_sensor_waits_for_its_reschedule_date(use_retry_delay: bool) -> None:
    pokes: list[float] = []

    def third_time_lucky() -> bool:
        pokes.append(time.monotonic())
        return len(pokes) == 3

    with DAG("resched", schedule=None) as dag:
        PythonSensor(
            task_id="wait", python_callable=third_time_lucky, poke_interval=0.1, mode="reschedule"
        )
    result = run(dag, use_retry_delay=use_retry_delay)
    assert states(result) == {"wait": "success"} and tries(result) == {"wait": 1}
    gaps = [later - earlier for earlier, later in itertools.pairwise(pokes)]
    assert len(gaps) == 2 and min(gaps) >= 0.09  # --no-retry-delay does not shorten reschedules


def test_reschedule_sensor_times_out_across_reschedules() -> None:
    with DAG("resched_timeout", schedule=None) as dag:
        waiting = PythonSensor(
            task_id="wait",
            python_callable=lambda: False,
            poke_interval=0.05,
            timeout=0.2,
            mode="reschedule",
            retries=2,
        )
        waiting >> EmptyOperator(task_id="after")
    result = run(dag)
    assert states(result) == {"wait": "failed", "after": "upstream_failed"}
    assert tries(result)["wait"] == 1  # a sensor timeout is not retried


def test_dagrun_timeout_skips_unfinished_tasks() -> None:
    with DAG("slow_run", schedule=None, dagrun_timeout=timedelta(seconds=0.3)) as dag:
        done = EmptyOperator(task_id="done")
        waiting = PythonSensor(
            task_id="never", python_callable=lambda: False, poke_interval=0.05, mode="reschedule"
        )
        done >> waiting >> EmptyOperator(task_id="after")
    result = run(dag)
    assert result.state is DagRunState.FAILED
    assert states(result) == {"done": "success", "never": "skipped", "after": "skipped"}


def test_fail_fast_stops_the_other_tasks() -> None:
    with DAG("fail_fast", schedule=None, fail_fast=True) as dag:
        boom = PythonOperator(task_id="boom", python_callable=_fail)
        boom >> EmptyOperator(task_id="after_boom")
        EmptyOperator(task_id="independent")
    result = run(dag)
    assert result.state is DagRunState.FAILED
    assert states(result) == {"boom": "failed", "after_boom": "skipped", "independent": "skipped"}


# -- params, XCom and callbacks ------------------------------------------------------------------


def _params_dag() -> tuple[DAG, InMemoryXComStore]:
    with DAG(
        "params",
        schedule=None,
        params={"n": Param(5, type="integer", minimum=1, maximum=10), "who": "ada"},
    ) as dag:

        @task
        def show(params=None):
            return dict(params)

        @task(params={"who": "grace", "extra": 1})
        def task_level(params=None):
            return dict(params)

        show()
        task_level()
    return dag, InMemoryXComStore()


def test_conf_overrides_params() -> None:
    dag, xcoms = _params_dag()
    result = run(dag, conf={"n": 7, "unknown": True}, xcoms=xcoms)
    assert xcoms.get("params", result.run_id, "show", -1, "return_value") == {
        "n": 7,
        "who": "ada",
        "unknown": True,
    }


def test_task_params_overlay_dag_params_and_conf_overlays_both() -> None:
    dag, xcoms = _params_dag()
    result = run(dag, xcoms=xcoms)
    assert xcoms.get("params", result.run_id, "task_level", -1, "return_value") == {
        "n": 5,
        "who": "grace",
        "extra": 1,
    }
    result = run(dag, conf={"who": "linus"}, xcoms=xcoms)
    assert xcoms.get("params", result.run_id, "task_level", -1, "return_value") == {
        "n": 5,
        "who": "linus",
        "extra": 1,
    }


@pytest.mark.parametrize(
    ("conf", "reason"),
    [
        ({"n": 0}, "bigger than or equal to 1"),
        ({"n": 11}, "smaller than or equal to 10"),
        ({"n": "7"}, "must be integer"),
    ],
)
def test_invalid_conf_is_rejected_with_the_reason(conf: dict[str, Any], reason: str) -> None:
    dag, _ = _params_dag()
    with pytest.raises(ParamValidationError, match=reason) as info:
        run(dag, conf=conf)
    assert "'n'" in str(info.value)


def test_task_param_schema_violation_fails_the_task() -> None:
    with DAG("task_param_schema", schedule=None, params={"n": Param(1, type="integer")}) as dag:
        EmptyOperator(task_id="bad", params={"n": "not a number"})
    assert states(run(dag)) == {"bad": "failed"}


def test_producer_of_a_mapped_input_must_return_a_list_or_dict() -> None:
    # As in Airflow, the task whose output cannot be mapped over fails, not the mapped task.
    with DAG("unmappable", schedule=None) as dag:

        @task
        def text():
            return "abc"

        @task
        def nothing():
            return None

        @task
        def use(x):
            return x

        use.expand(x=text())
        use.expand(x=nothing())
    result = run(dag)
    assert states(result) == {
        "text": "failed",
        "use": "upstream_failed",
        "nothing": "failed",
        "use__1": "upstream_failed",
    }


def test_dag_callbacks_get_the_run_context() -> None:
    calls: list[tuple[str, str, str]] = []

    def record(kind: str) -> Callable[[Any], None]:
        return lambda context: calls.append((kind, context["dag"].dag_id, context["reason"]))

    with DAG(
        "cb_ok",
        schedule=None,
        on_success_callback=record("success"),
        on_failure_callback=record("failure"),
    ) as ok:
        EmptyOperator(task_id="t")
    with DAG(
        "cb_bad",
        schedule=None,
        on_success_callback=record("success"),
        on_failure_callback=record("failure"),
    ) as bad:
        PythonOperator(task_id="t", python_callable=_fail)
    run(ok)
    run(bad)
    assert calls == [("success", "cb_ok", "success"), ("failure", "cb_bad", "task_failure")]


def test_variables_and_connections_come_from_the_lookups() -> None:
    class Conn:
        host = "db.example"

    with DAG("lookups", schedule=None) as dag:

        @task
        def read(value, host):
            return f"{value}@{host}"

        read("{{ var.value.region }}", "{{ conn.warehouse.host }}")
    xcoms = InMemoryXComStore()
    result = run(
        dag,
        xcoms=xcoms,
        variable_lookup={"region": "eu"}.get,
        connection_lookup={"warehouse": Conn()}.get,
    )
    assert xcoms.get("lookups", result.run_id, "read", -1, "return_value") == "eu@db.example"


def test_result_as_json() -> None:
    result = run(load("mapped_nothing"))
    data = result.to_json()
    assert set(data) == {"dag_id", "run_id", "state", "tasks"}
    assert data["dag_id"] == "mapped_nothing"
    assert data["run_id"] == "manual__2024-03-01T00:00:00+00:00"
    assert data["state"] == "success"
    assert data["tasks"]["count_lines"] == {"state": "skipped", "try_number": 0, "duration": None}
    assert data["tasks"]["report"]["try_number"] == 1
    assert isinstance(data["tasks"]["report"]["duration"], float)


def test_manual_run_info() -> None:
    dag = load("branch_join")
    info = make_run_info(dag, datetime(2024, 3, 1, 12), {"a": 1})
    assert info.run_id == "manual__2024-03-01T12:00:00+00:00"
    assert info.run_type == "manual" and info.conf == {"a": 1}
    assert info.logical_date is not None and info.logical_date.tzinfo is not None
    assert info.data_interval_end is not None and info.data_interval_end <= info.logical_date


# -- the decisions it shares with the scheduler -----------------------------------------------


@pytest.mark.parametrize(
    ("ti_states", "expected"),
    [
        ({"a": "success", "leaf": "success"}, DagRunState.SUCCESS),
        ({"a": "failed", "leaf": "success"}, DagRunState.SUCCESS),  # only the leaves count
        ({"a": "success", "leaf": "skipped"}, DagRunState.SUCCESS),
        ({"a": "failed", "leaf": "upstream_failed"}, DagRunState.FAILED),
        ({"a": "success", "leaf": "failed"}, DagRunState.FAILED),
        ({"a": "success", "leaf": None}, None),
        ({"a": "up_for_retry", "leaf": "success"}, None),
        ({"a": "up_for_reschedule", "leaf": "success"}, None),
    ],
)
def test_run_state_is_decided_by_the_leaves(
    ti_states: dict[str, str | None], expected: DagRunState | None
) -> None:
    pairs = [(task_id, TaskInstanceState(s) if s else None) for task_id, s in ti_states.items()]
    assert run_state.decide_run_state(pairs, {"leaf"}) is expected


def test_fail_fast_run_state_fails_at_the_first_failure() -> None:
    pairs = [("a", TaskInstanceState.FAILED), ("leaf", None)]
    assert run_state.decide_run_state(pairs, {"leaf"}) is None
    assert run_state.decide_run_state(pairs, {"leaf"}, fail_fast=True) is DagRunState.FAILED


class _RetryingTask:
    task_id = "t"

    def __init__(
        self, delay: timedelta, *, backoff: bool, max_delay: timedelta | None = None
    ) -> None:
        self.retry_delay = delay
        self.retry_exponential_backoff = backoff
        self.max_retry_delay = max_delay


def test_retry_delay_without_backoff_is_constant() -> None:
    task_ = _RetryingTask(timedelta(seconds=30), backoff=False)
    assert {
        retries.retry_delay(task_, dag_id="d", run_id="r", try_number=n) for n in (1, 2, 5)
    } == {timedelta(seconds=30)}


def test_exponential_backoff_doubles_with_deterministic_jitter() -> None:
    task_ = _RetryingTask(timedelta(seconds=10), backoff=True)
    for try_number in (1, 2, 3, 4):
        minimum = 10 * 2 ** (try_number - 1)
        delay = retries.retry_delay(task_, dag_id="d", run_id="r", try_number=try_number)
        assert timedelta(seconds=minimum) <= delay < timedelta(seconds=2 * minimum)
        assert delay == retries.retry_delay(task_, dag_id="d", run_id="r", try_number=try_number)


def test_exponential_backoff_is_capped_and_never_zero() -> None:
    capped = _RetryingTask(timedelta(seconds=10), backoff=True, max_delay=timedelta(seconds=15))
    assert retries.retry_delay(capped, dag_id="d", run_id="r", try_number=6) == timedelta(
        seconds=15
    )
    zero = _RetryingTask(timedelta(0), backoff=True)
    assert (
        timedelta(seconds=1)
        <= retries.retry_delay(zero, dag_id="d", run_id="r", try_number=1)
        < timedelta(seconds=2)
    )
    failed_at = datetime(2024, 1, 1)
    assert retries.next_retry_at(
        capped, dag_id="d", run_id="r", try_number=6, failed_at=failed_at
    ) == failed_at + timedelta(seconds=15)


# -- the examples ------------------------------------------------------------------------------


@pytest.fixture
def examples_bag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dag_bag.DagBag:
    """The examples, writing their files under ``tmp_path``."""
    monkeypatch.setenv("TRADEWIND_EXAMPLE_WAREHOUSE", str(tmp_path / "warehouse.db"))
    monkeypatch.setenv("TRADEWIND_EXAMPLE_LANDING", str(tmp_path / "landing"))
    bag = dag_bag.load_folder(EXAMPLES)
    assert bag.problems == []
    return bag


def test_every_example_passes_dags_test(examples_bag: dag_bag.DagBag, tmp_path: Path) -> None:
    assert len(examples_bag.dags) >= 4
    for dag_id, dag in sorted(examples_bag.dags.items()):
        conf = {"out_dir": str(tmp_path / "exports")} if "out_dir" in dag.params else {}
        started = time.monotonic()
        result = run(dag, conf=conf)
        assert result.state is DagRunState.SUCCESS, (dag_id, states(result))
        assert time.monotonic() - started < 5, dag_id


@pytest.mark.parametrize(
    ("min_rows", "followed", "skipped"),
    [(0, "publish", "flag_thin_day"), (1000, "flag_thin_day", "publish")],
)
def test_file_batch_example_branches_on_the_param(
    examples_bag: dag_bag.DagBag, min_rows: int, followed: str, skipped: str
) -> None:
    result = states(run(examples_bag.dags["file_batch_taskflow"], conf={"min_rows": min_rows}))
    assert [key for key in result if key.startswith("parse[")] == [
        "parse[0]",
        "parse[1]",
        "parse[2]",
    ]
    assert (result[followed], result[skipped], result["archive"]) == (
        "success",
        "skipped",
        "success",
    )


def test_maintenance_example_prunes_only_at_month_start(examples_bag: dag_bag.DagBag) -> None:
    dag = examples_bag.dags["warehouse_maintenance"]
    assert states(run(dag, logical_date=FRIDAY))["prune_partitions"] == "success"
    result = states(run(dag, logical_date=SATURDAY))
    assert (
        result["prune_partitions"],
        result["done"],
        result["alert_on_failure"],
        result["release_lock"],
    ) == (
        "skipped",
        "success",
        "skipped",
        "success",
    )
