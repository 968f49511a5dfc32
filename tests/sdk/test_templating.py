"""Jinja templating of template fields with the task's context."""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tradewind import DAG, BaseOperator, BashOperator, EmptyOperator, PythonOperator, task
from tradewind.runner.task_execution import TryOutcome, TryRequest, execute_try
from tradewind.runner.xcom_store import MISSING, InMemoryXComStore
from tradewind.sdk import templating
from tradewind.sdk.states import TaskInstanceState as TIS
from tradewind.services.dag_test import make_run_info

LOGICAL_DATE = datetime(2024, 3, 1, 6, 30)


class EchoOperator(BaseOperator):
    """Returns its rendered ``text`` field."""

    template_fields = ("text",)
    template_ext = (".txt", ".sql")

    def __init__(self, *, text: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.text = text

    def execute(self, context: Any) -> Any:
        return self.text


def execute(
    op: Any,
    *,
    conf: dict[str, Any] | None = None,
    xcoms: InMemoryXComStore | None = None,
    **lookups: Any,
) -> tuple[TryOutcome, Any]:
    """Run one try of ``op`` and return its outcome and its return value."""
    run = make_run_info(op.dag, LOGICAL_DATE, conf or {})
    xcoms = xcoms or InMemoryXComStore()
    params = op.dag.params.resolve(run.conf)
    outcome = execute_try(TryRequest(task=op, run=run, params=params), xcoms, **lookups)
    return outcome, xcoms.get(run.dag_id, run.run_id, op.task_id, -1, "return_value")


def render(text: str, **dag_kwargs: Any) -> Any:
    with DAG("templating", schedule="@daily", start_date=datetime(2024, 1, 1), **dag_kwargs):
        op = EchoOperator(task_id="echo", text=text)
    outcome, value = execute(op)
    assert outcome.state is TIS.SUCCESS, outcome.error
    return value


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ ds }}", "2024-03-01"),
        ("{{ ds_nodash }}", "20240301"),
        ("{{ ts }}", "2024-03-01T06:30:00+00:00"),
        ("{{ ts_nodash }}", "20240301T063000"),
        ("{{ ts_nodash_with_tz }}", "20240301T063000+0000"),
        ("{{ logical_date }}", "2024-03-01 06:30:00+00:00"),
        ("{{ logical_date.year }}-{{ logical_date.hour }}", "2024-6"),
        ("{{ data_interval_start }}", "2024-02-29 00:00:00+00:00"),
        ("{{ data_interval_end | ds }}", "2024-03-01"),
        ("{{ prev_data_interval_start_success }}", "None"),
        ("{{ run_id }}", "manual__2024-03-01T06:30:00+00:00"),
        ("{{ dag_run.run_id == run_id }}", "True"),
        (
            "{{ dag.dag_id }}/{{ task.task_id }}/{{ ti.task_id }}/{{ task_instance.try_number }}",
            "templating/echo/echo/1",
        ),
        ("{{ task_instance_key_str }}", "templating__echo__20240301"),
        ("{{ macros.ds_add(ds, 5) }}", "2024-03-06"),
        ("{{ macros.ds_add(ds, -1) }}", "2024-02-29"),
        ("{{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m/%y') }}", "01/03/24"),
        ("{{ macros.datetime(2020, 5, 17).strftime('%A') }}", "Sunday"),
        ("{{ (logical_date + macros.timedelta(days=1)) | ds }}", "2024-03-02"),
        ("{{ params.limit * 2 }}", "20"),
        ("{{ conf.get('source', 'default') }}", "default"),
    ],
)
def test_context_values_in_templates(template: str, expected: str) -> None:
    assert render(template, params={"limit": 10}) == expected


def test_dag_run_conf_and_params_from_conf() -> None:
    with DAG("conf_templating", schedule=None, params={"limit": 10}):
        op = EchoOperator(
            task_id="echo",
            text="{{ dag_run.conf['source'] }}:{{ conf['source'] }}:{{ params.limit }}",
        )
    assert execute(op, conf={"source": "api", "limit": 3})[1] == "api:api:3"


def test_variables_and_connections() -> None:
    class Conn:
        host = "db.example"
        port = 5432

    variables = {"region": "eu", "settings": '{"batch": 50}'}
    with DAG("lookups", schedule=None):
        op = EchoOperator(
            task_id="echo",
            text="{{ var.value.region }}|{{ var.json.settings.batch }}|"
            "{{ var.value.get('missing', 'd') }}|"
            "{{ conn.warehouse.host }}:{{ conn.warehouse.port }}",
        )
        missing = EchoOperator(task_id="missing", text="{{ var.value.missing }}")
    lookups = {"variable_lookup": variables.get, "connection_lookup": {"warehouse": Conn()}.get}
    assert execute(op, **lookups)[1] == "eu|50|d|db.example:5432"
    outcome, _ = execute(missing, **lookups)
    assert outcome.state is TIS.FAILED and "Variable missing does not exist" in (
        outcome.error or ""
    )


def test_undefined_names_fail_the_task() -> None:
    with DAG("undefined", schedule=None):
        op = EchoOperator(task_id="echo", text="line one\n{{ no_such_name }}")
    outcome, _ = execute(op)
    assert outcome.state is TIS.FAILED
    assert "cannot render field 'text'" in (outcome.error or "") and "no_such_name" in (
        outcome.error or ""
    )


def test_template_files_by_extension(tmp_path: Path) -> None:
    (tmp_path / "query.sql").write_text("SELECT * FROM t WHERE ds = '{{ ds }}'")
    (tmp_path / "run.sh").write_text("echo from file {{ ds_nodash }}")
    with DAG("files", schedule=None, template_searchpath=str(tmp_path)):
        sql = EchoOperator(task_id="sql", text="query.sql")
        not_a_file = EchoOperator(task_id="not_a_file", text="query.sql ")
        other_ext = EchoOperator(task_id="other_ext", text="notes.md")
        bash = BashOperator(task_id="bash", bash_command="run.sh")
        missing = EchoOperator(task_id="missing", text="nowhere.sql")
    assert execute(sql)[1] == "SELECT * FROM t WHERE ds = '2024-03-01'"
    assert execute(not_a_file)[1] == "query.sql "
    assert execute(other_ext)[1] == "notes.md"
    assert execute(bash)[1] == "from file 20240301"
    outcome, _ = execute(missing)
    assert outcome.state is TIS.FAILED
    assert "template file 'nowhere.sql' of field 'text' was not found" in (outcome.error or "")


def test_template_files_beside_the_dag_file_are_found() -> None:
    with DAG("beside", schedule=None) as dag:
        op = EchoOperator(task_id="echo", text=Path(__file__).name.replace(".py", ".sql"))
    env = templating.environment_for(dag)
    assert str(Path(__file__).parent) in env.loader.searchpath
    assert op.text.endswith(".sql")


def test_native_rendering() -> None:
    assert render("{{ params.limit }}", params={"limit": 10}) == "10"
    native = render("{{ params.limit }}", params={"limit": 10}, render_template_as_native_obj=True)
    assert native == 10
    assert render("{{ [1, 2] + [3] }}", render_template_as_native_obj=True) == [1, 2, 3]


def test_user_defined_macros_filters_and_environment() -> None:
    value = render(
        "{{ team }}:{{ ds | shout }}",
        user_defined_macros={"team": "data"},
        user_defined_filters={"shout": lambda s: s.upper() + "!"},
    )
    assert value == "data:2024-03-01!"
    assert (
        render(
            "<<< ds >>>",
            jinja_environment_kwargs={"variable_start_string": "<<<", "variable_end_string": ">>>"},
        )
        == "2024-03-01"
    )


def test_containers_are_rendered_item_by_item() -> None:
    Pair = namedtuple("Pair", "left right")
    env = templating.environment_for(None)
    context = {"ds": "2024-03-01", "n": 3}
    value = {
        "list": ["{{ ds }}", 1],
        "tuple": ("{{ n }}",),
        "set": {"{{ n }}"},
        "pair": Pair("{{ ds }}", 2),
        "none": None,
    }
    assert templating.render_value(value, context, env) == {
        "list": ["2024-03-01", 1],
        "tuple": ("3",),
        "set": {"3"},
        "pair": Pair("2024-03-01", 2),
        "none": None,
    }


def test_nested_objects_with_template_fields_are_rendered() -> None:
    class Query:
        template_fields = ("sql",)

        def __init__(self, sql: str) -> None:
            self.sql = sql

    env = templating.environment_for(None)
    rendered = templating.render_value([Query("WHERE ds = '{{ ds }}'")], {"ds": "2024-03-01"}, env)
    assert rendered[0].sql == "WHERE ds = '2024-03-01'"


def test_rendering_works_on_a_copy_of_the_task() -> None:
    with DAG("copy", schedule=None) as dag:
        op = EchoOperator(task_id="echo", text="{{ ds }}")
    outcome, value = execute(op)
    assert value == "2024-03-01"
    assert dag.get_task("echo").text == "{{ ds }}"
    assert outcome.rendered_fields == {"text": "2024-03-01"}


def test_python_operator_templates_args_kwargs_and_templates_dict() -> None:
    with DAG("py_templates", schedule=None, params={"n": 2}):
        op = PythonOperator(
            task_id="py",
            python_callable=lambda day, n, templates_dict: f"{day}|{n}|{templates_dict['q']}",
            op_args=["{{ ds }}"],
            op_kwargs={"n": "{{ params.n }}"},
            templates_dict={"q": "{{ ds_nodash }}"},
        )
    assert execute(op)[1] == "2024-03-01|2|20240301"


def test_xcom_args_in_templated_fields_resolve_to_values() -> None:
    xcoms = InMemoryXComStore()
    with DAG("xcom_templates", schedule=None):

        @task
        def produce():
            return {"rows": 3}

        @task
        def word():
            return "hello"

        source = produce()
        op = EchoOperator(
            task_id="echo",
            text={
                "count": source,
                "in_text": "rows={{ ti.xcom_pull(task_ids='produce')['rows'] }}",
            },
        )
        greeting = word()
        bash = BashOperator(task_id="bash", bash_command=f"echo {greeting} world")
    assert op.upstream_task_ids == {"produce"}
    assert not bash.upstream_task_ids  # an f-string hides the dependency, as in Airflow
    execute(source.operator, xcoms=xcoms)
    execute(greeting.operator, xcoms=xcoms)
    assert execute(op, xcoms=xcoms)[1] == {"count": {"rows": 3}, "in_text": "rows=3"}
    assert execute(bash, xcoms=xcoms)[1] == "hello world"


def test_empty_operator_has_no_template_fields() -> None:
    with DAG("empty", schedule=None):
        op = EmptyOperator(task_id="nothing")
    outcome, value = execute(op)
    assert outcome.state is TIS.SUCCESS and value is MISSING  # None is not pushed
