"""DAG files written for Airflow import ``airflow`` and get Tradewind's objects (Airflow 3's
``airflow.sdk`` and ``airflow.providers.standard`` paths, and the legacy spellings Airflow 3
still accepts); a module or name Tradewind does not have fails the import naming it; an
installed Airflow is never shadowed. Each runs the real ``tradewind`` command in a process
of its own (the ``airflow`` finder is installed for the process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

AIRFLOW_3 = """\
import pendulum_free_marker  # noqa: F401 - a helper module beside the DAG file
from airflow.sdk import DAG, dag, task, chain, TriggerRule
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator


@dag(schedule=None, dag_id="airflow_three")
def pipeline():
    @task
    def extract():
        return 20

    @task
    def load(value):
        print(f"loaded {value + 1}")
        return value + 1

    done = EmptyOperator(task_id="done", trigger_rule=TriggerRule.ALL_DONE)
    shell = BashOperator(task_id="shell", bash_command="echo from bash")
    chain(load(extract()), shell, done)


pipeline()
"""
LEGACY = """\
from airflow import DAG
from airflow.decorators import task
from airflow.exceptions import AirflowSkipException
from airflow.operators.python import PythonOperator
from airflow.utils.trigger_rule import TriggerRule

def skip():
    raise AirflowSkipException("nothing to do")

with DAG("airflow_legacy", schedule=None) as dag:
    skipped = PythonOperator(task_id="skipped", python_callable=skip)

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def after():
        return "after"

    skipped >> after()
"""
NOT_AVAILABLE = """\
from airflow import DAG
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator

with DAG("needs_amazon", schedule=None):
    S3CreateBucketOperator(task_id="bucket", bucket_name="b")
"""
PENDULUM = """\
import pendulum
from airflow.sdk import DAG, task

with DAG(
    "with_pendulum",
    schedule="0 6 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Seoul"),
    catchup=False,
    dagrun_timeout=pendulum.duration(hours=1),
    default_args={"retries": 1, "retry_delay": pendulum.duration(minutes=5)},
):
    @task
    def show(data_interval_end=None):
        print("interval ends", data_interval_end.isoformat())

    show()
"""
MISSING_NAME = """\
from airflow.sdk import DAG, Asset

with DAG("needs_assets", schedule=[Asset("s3://x")]):
    pass
"""


def tradewind(
    tmp_path: Path, *args: str, pythonpath: str = "", **environ: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradewind.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "TRADEWIND_HOME": str(tmp_path / "home"),
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": pythonpath,
            **environ,
        },
    )


def dags_test(
    tmp_path: Path, dag_id: str, source: str, **environ: str
) -> subprocess.CompletedProcess[str]:
    """``dags test DAG_ID -o json`` on a folder holding only ``source`` (as ``DAG_ID.py``)."""
    folder = tmp_path / "dags"
    folder.mkdir(exist_ok=True)
    (folder / f"{dag_id}.py").write_text(source)
    return tradewind(
        tmp_path, "dags", "test", dag_id, "--dags-folder", str(folder), "-o", "json", **environ
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "pendulum_free_marker.py").write_text("VALUE = 1\n")
    (folder / "airflow_three.py").write_text(AIRFLOW_3)
    (folder / "airflow_legacy.py").write_text(LEGACY)
    (folder / "needs_amazon.py").write_text(NOT_AVAILABLE)
    (folder / "needs_assets.py").write_text(MISSING_NAME)
    (folder / "with_pendulum.py").write_text(PENDULUM)
    return folder


def test_an_airflow_3_dag_file_runs(tmp_path: Path, folder: Path) -> None:
    done = tradewind(
        tmp_path, "dags", "test", "airflow_three", "--dags-folder", str(folder), "-o", "json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["state"] == "success", result
    states = {task_id: task["state"] for task_id, task in result["tasks"].items()}
    assert states == {
        "extract": "success",
        "load": "success",
        "shell": "success",
        "done": "success",
    }
    assert "loaded 21" in done.stderr and "from bash" in done.stderr


def test_a_dag_file_in_legacy_spellings_runs_with_airflow_s_states(
    tmp_path: Path, folder: Path
) -> None:
    done = tradewind(
        tmp_path, "dags", "test", "airflow_legacy", "--dags-folder", str(folder), "-o", "json"
    )
    assert done.returncode == 0, done.stderr
    tasks = json.loads(done.stdout)["tasks"]
    assert tasks["skipped"]["state"] == "skipped"
    assert tasks["after"]["state"] == "success"


@pytest.mark.parametrize(
    ("dag_id", "message"),
    [
        ("needs_amazon", "airflow.providers.amazon is not available in Tradewind"),
        ("needs_assets", "airflow.sdk.Asset is not available in Tradewind"),
    ],
)
def test_what_tradewind_does_not_have_fails_the_import_naming_it(
    tmp_path: Path, folder: Path, dag_id: str, message: str
) -> None:
    failed = tradewind(tmp_path, "dags", "test", dag_id, "--dags-folder", str(folder))
    assert failed.returncode != 0
    assert message in failed.stderr, failed.stderr
    assert f"{dag_id}.py" in failed.stderr, failed.stderr


def test_pendulum_dates_durations_and_zones_are_taken(tmp_path: Path, folder: Path) -> None:
    done = tradewind(
        tmp_path,
        "dags",
        "test",
        "with_pendulum",
        "2026-06-01",
        "--dags-folder",
        str(folder),
        "-o",
        "json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "success"
    # 06:00 in Seoul is 21:00 UTC the day before.
    assert "T21:00:00+00:00" in done.stderr.split("interval ends", 1)[1], done.stderr


def test_an_installed_airflow_is_never_shadowed(tmp_path: Path) -> None:
    installed = tmp_path / "site"
    (installed / "airflow").mkdir(parents=True)
    (installed / "airflow" / "__init__.py").write_text("REAL = True\n")
    probe = (
        "from tradewind.compat import airflow_import\n"
        "airflow_import.install()\n"
        "import airflow\n"
        "print(getattr(airflow, 'REAL', False))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"},
    )
    assert shown.stdout.strip() == "True", shown.stderr


def test_airflow_check_says_per_file_what_blocks_it(tmp_path: Path, folder: Path) -> None:
    checked = tradewind(tmp_path, "airflow", "check", str(folder))
    assert checked.returncode == 1, checked.stderr
    lines = checked.stdout.splitlines()
    assert lines[-1] == "3 of 5 files load", checked.stdout  # the helper module is no DAG file
    by_file = {line.split("|")[0].strip(): line for line in lines[2:-1]}
    assert "| ok " in by_file["airflow_three.py"], checked.stdout
    assert "airflow.providers.amazon is not available" in by_file["needs_amazon.py"]
    assert "line 1: airflow.sdk.Asset is not available" in by_file["needs_assets.py"]


def test_airflow_check_in_json(tmp_path: Path, folder: Path) -> None:
    (folder / "needs_amazon.py").unlink()
    (folder / "needs_assets.py").unlink()
    checked = tradewind(tmp_path, "airflow", "check", str(folder), "-o", "json")
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert report["loaded"] == report["total"] == 3
    files = {entry["file"]: entry for entry in report["files"]}
    assert files["airflow_legacy.py"] == {
        "file": "airflow_legacy.py",
        "ok": True,
        "dags": ["airflow_legacy"],
        "problems": [],
    }


VARIABLES = """\
from airflow.models import Variable
from airflow.sdk import DAG, task

with DAG("reads_variables", schedule=None):
    @task
    def read():
        assert Variable.get("plain") == "text"
        assert Variable.get("config", deserialize_json=True) == {"rows": 3}
        assert Variable.get("absent", default_var="fallback") == "fallback"
        assert Variable.get("absent", "fallback") == "fallback"
        try:
            Variable.get("absent")
        except KeyError as exc:
            print("missing:", exc)
        else:
            raise AssertionError("a missing variable without a default must raise")

    read()
"""
TOP_LEVEL_VARIABLE = """\
from airflow.sdk import DAG, Variable

with DAG(Variable.get("dag_name"), schedule=None):
    pass
"""


def test_variable_get_in_task_code(tmp_path: Path) -> None:
    done = dags_test(
        tmp_path,
        "reads_variables",
        VARIABLES,
        AIRFLOW_VAR_PLAIN="text",
        TRADEWIND_VAR_CONFIG='{"rows": 3}',
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "success", done.stderr
    assert "missing: 'Variable absent does not exist'" in done.stderr


def test_variable_get_at_top_level_fails_saying_why(tmp_path: Path) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "top_level.py").write_text(TOP_LEVEL_VARIABLE)
    checked = tradewind(tmp_path, "airflow", "check", str(folder))
    assert checked.returncode == 1
    assert "Variable.get('dag_name') outside a running task" in checked.stdout, checked.stdout


AIRFLOW_2 = """\
from datetime import timedelta

from airflow import DAG
from airflow.operators.dummy_operator import DummyOperator
from airflow.operators.python_operator import PythonOperator
from airflow.utils.dates import days_ago

def greet(**context):
    print("greeting", context["ds"])

with DAG(
    "airflow_two",
    schedule_interval=timedelta(days=1),
    start_date=days_ago(2),
    concurrency=4,
    catchup=False,
) as dag:
    start = DummyOperator(task_id="start")
    first = PythonOperator(task_id="first", python_callable=greet, provide_context=True)
    second = PythonOperator(task_id="second", python_callable=greet, provide_context=True)
    start >> [first, second]
"""


def test_airflow_2_spellings_work_and_each_warns_once(tmp_path: Path) -> None:
    done = dags_test(tmp_path, "airflow_two", AIRFLOW_2)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {task["state"] for task in result["tasks"].values()} == {"success"}, result
    for spelling in (
        "import airflow.operators.dummy_operator",
        "import airflow.operators.python_operator",
        "import airflow.utils.dates",
        "days_ago()",
        "DAG(schedule_interval=...)",
        "DAG(concurrency=...)",
        "DummyOperator",
        "PythonOperator(provide_context=...)",
    ):
        assert done.stderr.count(f"{spelling} is an Airflow 2 spelling") == 1, (
            spelling,
            done.stderr,
        )


def test_the_dag_of_airflow_2_spellings_is_airflow_2_s(tmp_path: Path) -> None:
    probe = (
        "import warnings\n"
        "warnings.simplefilter('ignore')\n"
        "from tradewind.compat import airflow_import\n"
        "airflow_import.install()\n"
        "from datetime import timedelta\n"
        "from airflow import DAG\n"
        "from airflow.utils.dates import days_ago\n"
        "dag = DAG('two', schedule_interval=timedelta(hours=6), start_date=days_ago(1),"
        " concurrency=3)\n"
        "print(dag.timetable.summary, dag.max_active_tasks, dag.start_date.hour)\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert shown.stdout.split() == ["6:00:00", "3", "0"], shown.stderr


HOOKS = """\
from airflow.hooks.base import BaseHook
from airflow.sdk import DAG, Connection, task


class WarehouseHook(BaseHook):
    def __init__(self, conn_id="warehouse"):
        self.connection = self.get_connection(conn_id)

    def where(self):
        self.log.info("reaching %s", self.connection.host)
        return f"{self.connection.host}:{self.connection.port}/{self.connection.schema}"


with DAG("uses_hooks", schedule=None):
    @task
    def reach():
        assert WarehouseHook().where() == "db.example:5432/sales"
        assert Connection.get("warehouse").login == "etl"
        try:
            Connection.get("nowhere")
        except Exception as exc:
            print("missing:", exc)
        else:
            raise AssertionError("a missing connection must raise")

    reach()
"""


def test_hooks_find_their_connection_in_task_code(tmp_path: Path) -> None:
    uri = "postgres://etl:secret@db.example:5432/sales"
    done = dags_test(tmp_path, "uses_hooks", HOOKS, AIRFLOW_CONN_WAREHOUSE=uri)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "success", done.stderr
    assert "missing: The conn_id `nowhere` isn't defined" in done.stderr
    assert "secret" not in done.stderr
