"""``DAG(...)`` and ``@dag``: arguments, default_args,
schedules and what is checked at definition."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tradewind import (
    DAG,
    BaseOperator,
    BashOperator,
    EmptyOperator,
    Param,
    PythonOperator,
    TaskGroup,
    TriggerRule,
    dag,
    task,
)
from tradewind.exceptions import (
    CycleError,
    DagDefinitionError,
    DuplicateTaskIdError,
    InvalidIdError,
    ParamValidationError,
    TaskNotFound,
)
from tradewind.sdk import task_node
from tradewind.sdk.param import DagParam


class GreetOperator(BaseOperator):
    """A user-written operator with its own arguments."""

    template_fields = ("greeting",)

    def __init__(self, *, greeting: str, volume: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.greeting = greeting
        self.volume = volume

    def execute(self, context: Any) -> str:
        return self.greeting * self.volume


def test_default_args_fill_what_the_task_left_out() -> None:
    default_args = {
        "owner": "data-eng",
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "trigger_rule": "all_done",
        "volume": 4,  # an argument only GreetOperator accepts
        "bash_command": "echo ignored",  # not accepted by the others: ignored for them
    }
    with DAG("defaults", schedule=None, default_args=default_args) as the_dag:
        greet = GreetOperator(task_id="greet", greeting="hi")
        explicit = EmptyOperator(
            task_id="explicit", retries=0, owner="me", trigger_rule=TriggerRule.ONE_SUCCESS
        )
        bash = BashOperator(task_id="bash", bash_command="echo kept")

        @task
        def decorated():
            return 1

        decorated()
    assert (greet.owner, greet.retries, greet.retry_delay, greet.volume) == (
        "data-eng",
        3,
        timedelta(minutes=2),
        4,
    )
    assert greet.trigger_rule is TriggerRule.ALL_DONE
    assert (explicit.owner, explicit.retries, explicit.trigger_rule) == (
        "me",
        0,
        TriggerRule.ONE_SUCCESS,
    )
    assert bash.bash_command == "echo kept"
    assert the_dag.get_task("decorated").retries == 3
    assert the_dag.owner == "data-eng, me"


def test_task_default_args_argument_overlays_the_dags() -> None:
    with DAG("overlay", schedule=None, default_args={"retries": 3, "owner": "a"}):
        op = EmptyOperator(task_id="op", default_args={"retries": 1})
    assert (op.retries, op.owner) == (1, "a")


def test_base_operator_arguments_are_normalized() -> None:
    with DAG("args", schedule=None):
        op = EmptyOperator(
            task_id="op",
            retries=2,
            retry_delay=30,
            execution_timeout=1.5,
            max_retry_delay=timedelta(hours=1),
            retry_exponential_backoff=True,
            pool=None,
            priority_weight=5,
            weight_rule="absolute",
            queue="fast",
            do_xcom_push=False,
            start_date=datetime(2024, 1, 1),
            doc_md="**doc**",
        )
    assert op.retry_delay == timedelta(seconds=30)
    assert op.execution_timeout == timedelta(seconds=1.5)
    assert (op.pool, op.priority_weight, op.weight_rule, op.queue, op.do_xcom_push) == (
        "default_pool",
        5,
        "absolute",
        "fast",
        False,
    )
    assert op.start_date == datetime(2024, 1, 1, tzinfo=UTC)
    assert op.doc_md == "**doc**"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trigger_rule": "sometimes"}, "unknown trigger rule 'sometimes'"),
        ({"weight_rule": "sideways"}, "unknown weight_rule"),
        ({"retries": "many"}, "retries must be a whole number"),
        ({"retry_delay": "soon"}, "retry_delay must be a timedelta"),
        ({"pool_slots": 0}, "pool_slots must be at least 1"),
        ({"priority_weight": 1.5}, "priority_weight must be an integer"),
        ({"not_an_argument": 1}, "invalid arguments were passed to EmptyOperator"),
    ],
)
def test_invalid_task_arguments_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with DAG("bad_args", schedule=None), pytest.raises(DagDefinitionError, match=message):
        EmptyOperator(task_id="op", **kwargs)


@pytest.mark.parametrize(
    ("schedule", "summary", "schedulable"),
    [
        (None, "None", False),
        ("@once", "@once", True),
        ("@hourly", "@hourly", True),
        ("@daily", "@daily", True),
        ("@weekly", "@weekly", True),
        ("@monthly", "@monthly", True),
        ("0 6 * * 1-5", "0 6 * * 1-5", True),
        (timedelta(hours=2), "2:00:00", True),
    ],
)
def test_schedules(schedule: Any, summary: str, schedulable: bool) -> None:
    the_dag = DAG("scheduled", schedule=schedule, start_date=datetime(2024, 1, 1))
    assert the_dag.timetable.summary == summary
    assert the_dag.timetable.can_be_scheduled is schedulable
    assert the_dag.schedule == schedule


def test_schedule_needs_a_start_date() -> None:
    with pytest.raises(DagDefinitionError, match="has schedule '@daily' but no start_date"):
        DAG("no_start", schedule="@daily")
    assert DAG(
        "start_in_defaults", schedule="@daily", default_args={"start_date": datetime(2024, 1, 1)}
    ).start_date
    assert DAG("unscheduled", schedule=None).start_date is None


def test_start_date_zone() -> None:
    seoul = ZoneInfo("Asia/Seoul")
    aware = DAG("aware", schedule="@daily", start_date=datetime(2024, 1, 1, tzinfo=seoul))
    assert aware.timezone is seoul
    assert aware.start_date == datetime(2023, 12, 31, 15, tzinfo=UTC)
    naive = DAG("naive", schedule="@daily", start_date=datetime(2024, 1, 1))
    assert naive.start_date == datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"dag_id": "has space"}, InvalidIdError, "dag_id 'has space' is invalid"),
        ({"dag_id": ""}, InvalidIdError, "non-empty"),
        ({"dag_id": "x" * 251}, InvalidIdError, "of 251 characters is longer than the 250 allowed"),
        (
            {"dag_id": "d", "max_active_runs": 0},
            DagDefinitionError,
            "max_active_runs must be a positive integer",
        ),
        ({"dag_id": "d", "tags": [""]}, DagDefinitionError, "tags must be non-empty strings"),
        (
            {"dag_id": "d", "dagrun_timeout": "1h"},
            DagDefinitionError,
            "dagrun_timeout must be a timedelta",
        ),
        (
            {"dag_id": "d", "start_date": datetime(2024, 2, 1), "end_date": datetime(2024, 1, 1)},
            DagDefinitionError,
            "end_date .* is before start_date",
        ),
        (
            {"dag_id": "d", "params": {"n": Param(0, type="integer", minimum=1)}},
            ParamValidationError,
            "param 'n'",
        ),
    ],
)
def test_invalid_dag_arguments(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    kwargs.setdefault("schedule", None)
    with pytest.raises(error, match=message):
        DAG(**kwargs)


def test_dag_arguments_are_kept() -> None:
    the_dag = DAG(
        "kept",
        schedule=None,
        tags=["b", "a", "b"],
        description="d",
        max_active_runs=2,
        max_active_tasks=3,
        dagrun_timeout=60,
        template_searchpath="/tmp",
        catchup=True,
        dag_display_name="Kept DAG",
    )
    assert the_dag.tags == ["b", "a"]
    assert (the_dag.max_active_runs, the_dag.max_active_tasks, the_dag.catchup) == (2, 3, True)
    assert the_dag.dagrun_timeout == timedelta(seconds=60)
    assert the_dag.template_searchpath == ["/tmp"]
    assert the_dag.dag_display_name == "Kept DAG"
    assert the_dag.fileloc == __file__


def test_task_lookup_roots_leaves_and_order() -> None:
    with DAG("shape", schedule=None) as the_dag:
        a, b, c, d = (EmptyOperator(task_id=name) for name in "abcd")
        a >> [b, c] >> d
    assert the_dag.task_ids == ["a", "b", "c", "d"]
    assert the_dag.has_task("a") and not the_dag.has_task("z")
    assert [t.task_id for t in the_dag.roots] == ["a"]
    assert [t.task_id for t in the_dag.leaves] == ["d"]
    assert [t.task_id for t in the_dag.topological_sort()] == ["a", "b", "c", "d"]
    assert the_dag.get_task("b") is b
    with pytest.raises(TaskNotFound, match="task 'z' not found in DAG 'shape'"):
        the_dag.get_task("z")
    assert the_dag.priority_weights() == {"a": 4, "b": 2, "c": 2, "d": 1}


def test_cycle_is_spelled_out() -> None:
    with DAG("cyclic", schedule=None) as the_dag:
        extract = EmptyOperator(task_id="extract")
        transform = EmptyOperator(task_id="transform")
        load = EmptyOperator(task_id="load")
        extract >> transform >> load >> transform
    with pytest.raises(
        CycleError, match="cycle detected in DAG 'cyclic': transform -> load -> transform"
    ):
        the_dag.validate()
    with pytest.raises(CycleError):
        the_dag.topological_sort()


def test_two_tasks_with_one_id() -> None:
    with DAG("dup", schedule=None):
        EmptyOperator(task_id="a")
        with pytest.raises(
            DuplicateTaskIdError, match="task id 'a' has already been added to DAG 'dup'"
        ):
            EmptyOperator(task_id="a")


def test_task_id_clashing_with_a_group_id() -> None:
    with DAG("clash", schedule=None):
        with TaskGroup("g"):
            EmptyOperator(task_id="x")
        with pytest.raises(DuplicateTaskIdError, match="task group id"):
            EmptyOperator(task_id="g")


def test_a_task_cannot_move_to_another_dag() -> None:
    first = DAG("first", schedule=None)
    second = DAG("second", schedule=None)
    op = EmptyOperator(task_id="op", dag=first)
    with pytest.raises(DagDefinitionError, match="already belongs to DAG 'first'"):
        op.dag = second


def test_a_task_created_without_dag_can_join_one_later() -> None:
    loose = EmptyOperator(task_id="loose")
    with pytest.raises(DagDefinitionError, match="not in a DAG"):
        loose.dag  # noqa: B018
    with DAG("adopting", schedule=None) as the_dag:
        inside = EmptyOperator(task_id="inside")
        loose >> inside
    assert loose.dag is the_dag and the_dag.task_ids == ["inside", "loose"]
    other = EmptyOperator(task_id="other")
    the_dag.add_tasks([other])
    assert other.dag is the_dag


def test_dag_decorator_makes_params_from_arguments() -> None:
    @dag(schedule="@daily", start_date=datetime(2024, 1, 1), tags=["t"])
    # A Param as an argument's default is the authoring API under test, hence the noqa.
    def sales_report(region: str = "eu", limit=Param(10, type="integer", minimum=1)):  # noqa: B008
        """Sales per region."""

        @task
        def report(region, limit):
            return f"{region}:{limit}"

        report(region, limit)

    the_dag = sales_report()
    assert the_dag.dag_id == "sales_report"
    assert the_dag.doc_md == "Sales per region."
    assert dict(the_dag.params) == {"region": "eu", "limit": 10}
    assert the_dag.params.get_param("limit").schema == {"type": "integer", "minimum": 1}
    region_arg = the_dag.get_task("report").op_args[0]
    assert isinstance(region_arg, DagParam) and region_arg.name == "region"
    assert the_dag.fileloc == __file__
    assert sales_report(region="us").params["region"] == "us"


def test_dag_decorator_with_explicit_id_and_without_call_parentheses() -> None:
    @dag("explicit_id", schedule=None)
    def anything():
        EmptyOperator(task_id="t")

    @dag
    def bare():
        EmptyOperator(task_id="t")

    assert anything().dag_id == "explicit_id"
    assert bare().dag_id == "bare"


def test_python_operator_needs_a_callable() -> None:
    with (
        DAG("py", schedule=None),
        pytest.raises(DagDefinitionError, match="python_callable must be callable"),
    ):
        PythonOperator(task_id="p", python_callable="not callable")


def test_params_in_default_args_merge_into_the_dags_params() -> None:
    shared = {"params": {"x": 1, "y": 5}, "retries": 2}
    with DAG(
        "merged_params",
        schedule=None,
        default_args=shared,
        params={"x": Param(2, type="integer"), "z": 3},
    ) as the_dag:
        op = EmptyOperator(task_id="t")
    # as in Airflow, default_args["params"] win, and a plain value keeps the Param's schema
    assert dict(the_dag.params) == {"x": 1, "y": 5, "z": 3}
    assert the_dag.params.get_param("x").schema == {"type": "integer"}
    assert op.params is None and op.retries == 2
    assert shared["params"] == {"x": 1, "y": 5}  # the caller's dict is left alone


def test_fileloc_of_code_in_a_folder_whose_name_extends_the_packages() -> None:
    package_dir = os.path.dirname(os.path.dirname(task_node.__file__))
    fake_file = package_dir + "_dags/pipeline.py"  # e.g. .../tradewind_dags/pipeline.py
    namespace: dict[str, Any] = {"DAG": DAG}
    exec(compile("made = DAG('beside', schedule=None)", fake_file, "exec"), namespace)  # noqa: S102
    assert namespace["made"].fileloc == fake_file
    assert namespace["made"].definition_line == 1
