"""``tradewind dags test`` and the other DAG-file commands: output, exit codes and errors.

Most tests call the click commands in-process; the ``slow`` ones start the real ``tradewind``
command, to check what only a real process shows (child processes writing to stdout).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tradewind.cli.dags import dags_group
from tradewind.cli.tasks import tasks_group

DAGS = Path(__file__).resolve().parents[1] / "dags"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    """Invoke a command group with a clean environment (TRADEWIND_HOME is ``tmp_path``)."""
    runner = CliRunner()

    def invoke(group: Any, *args: str, env: dict[str, str] | None = None) -> Result:
        environment = {
            "TRADEWIND_HOME": str(tmp_path / "home"),
            "TRADEWIND__CORE__DAGS_FOLDER": None,
        }
        environment.update(env or {})
        return runner.invoke(group, list(args), env=environment, catch_exceptions=False)

    return invoke


def dags_test(cli: Any, *args: str, **kwargs: Any) -> Result:
    return cli(dags_group, "test", *args, **kwargs)


def test_json_output_is_one_object_and_logs_go_to_stderr(cli: Any) -> None:
    result = dags_test(cli, "mapped_files", "2024-03-01", "--dags-folder", str(DAGS), "-o", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"dag_id", "run_id", "state", "tasks"}
    assert (data["dag_id"], data["run_id"], data["state"]) == (
        "mapped_files",
        "manual__2024-03-01T00:00:00+00:00",
        "success",
    )
    assert list(data["tasks"]) == [
        "list_files", "count_lines[0]", "count_lines[1]", "count_lines[2]", "total",
        "echo_file[0]", "echo_file[1]",
    ]  # fmt: skip
    for entry in data["tasks"].values():
        assert set(entry) == {"state", "try_number", "duration"}
        assert entry["state"] == "success" and entry["try_number"] == 1 and entry["duration"] >= 0
    assert "Marking task as SUCCESS" in result.stderr and "{count_lines[1]}" in result.stderr


def test_failed_run_exits_1_with_states(cli: Any) -> None:
    result = dags_test(cli, "retries_exhausted", "--dags-folder", str(DAGS), "-o", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["state"] == "failed"
    assert {key: (t["state"], t["try_number"]) for key, t in data["tasks"].items()} == {
        "always_fails": ("failed", 2),
        "fail_fast_task": ("failed", 1),
        "after": ("upstream_failed", 0),
    }
    assert data["tasks"]["after"]["duration"] is None


def test_table_output(cli: Any) -> None:
    result = dags_test(cli, "failure_with_cleanup", "2024-03-01", "--dags-folder", str(DAGS))
    assert result.exit_code == 0  # the leaves decide, as in Airflow
    lines = result.stdout.splitlines()
    assert any(line.startswith("transform") and "failed" in line for line in lines)
    assert any(line.startswith("load") and "upstream_failed" in line for line in lines)
    assert lines[-1] == "DAG run manual__2024-03-01T00:00:00+00:00: success"


def test_no_retry_delay(cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "slow_retry.py").write_text(
        "from datetime import timedelta\nfrom tradewind import DAG, task\n"
        "with DAG('slow_retry', schedule=None):\n"
        "    @task(retries=1, retry_delay=timedelta(hours=1))\n"
        "    def flaky(ti=None):\n"
        "        if ti.try_number == 1:\n"
        "            raise RuntimeError('first try')\n"
        "    flaky()\n"
    )
    result = dags_test(
        cli, "slow_retry", "--dags-folder", str(folder), "--no-retry-delay", "-o", "json"
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["tasks"]["flaky"] == {
        "state": "success",
        "try_number": 2,
        "duration": pytest.approx(0, abs=1),
    }


@pytest.mark.parametrize(("min_rows", "publish"), [("0", "success"), ("1000", "skipped")])
def test_conf_overrides_params(cli: Any, tmp_path: Path, min_rows: str, publish: str) -> None:
    result = dags_test(
        cli, "file_batch_taskflow", "2024-03-01", "--dags-folder", str(EXAMPLES), "-o", "json",
        "--conf", f'{{"min_rows": {min_rows}}}',
        env={"TRADEWIND_EXAMPLE_LANDING": str(tmp_path / "landing")},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["tasks"]["publish"]["state"] == publish


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--conf", '{"min_rows": -1}'],
            "invalid value for param 'min_rows': -1: value must be bigger than or equal to 0",
        ),
        (
            ["--conf", '{"min_rows": "many"}'],
            "invalid value for param 'min_rows': 'many': value must be integer",
        ),
        (["--conf", "{not json"], "--conf is not valid JSON"),
        (["--conf", "[1, 2]"], "--conf must be a JSON object, got list"),
    ],
)
def test_invalid_conf_exits_2_with_the_reason(cli: Any, args: list[str], message: str) -> None:
    result = dags_test(
        cli, "file_batch_taskflow", "2024-03-01", "--dags-folder", str(EXAMPLES), *args
    )
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_bad_logical_date_exits_2(cli: Any) -> None:
    result = dags_test(cli, "branch_join", "yesterday", "--dags-folder", str(DAGS))
    assert (
        result.exit_code == 2
        and "LOGICAL_DATE: not an ISO 8601 date or datetime: 'yesterday'" in result.stderr
    )


def test_unknown_dag_exits_2(cli: Any) -> None:
    result = dags_test(cli, "no_such_dag", "--dags-folder", str(DAGS))
    assert result.exit_code == 2
    assert f"DAG 'no_such_dag' not found in {DAGS}" in result.stderr


def test_missing_folder_exits_2(cli: Any, tmp_path: Path) -> None:
    result = dags_test(cli, "x", "--dags-folder", str(tmp_path / "absent"))
    assert result.exit_code == 2 and "does not exist" in result.stderr


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "from tradewind import DAG, EmptyOperator\n"
            "with DAG('broken', schedule=None):\n"
            "    extract = EmptyOperator(task_id='extract')\n"
            "    transform = EmptyOperator(task_id='transform')\n"
            "    extract >> transform >> extract\n",
            "cycle detected in DAG 'broken': extract -> transform -> extract (broken.py, line 2)",
        ),
        (
            "from tradewind import DAG, EmptyOperator\n"
            "with DAG('broken', schedule=None):\n"
            "    EmptyOperator(task_id='a')\n"
            "    EmptyOperator(task_id='a')\n",
            "task id 'a' has already been added to DAG 'broken' (broken.py, line 4)",
        ),
        (
            "from tradewind import DAG\nDAG('broken', schedule=None\n",
            "SyntaxError: '(' was never closed (broken.py, line 2)",
        ),
        (
            "from tradewind import DAG\nwith DAG('broken', schedule=None):\n    1 / 0\n",
            "ZeroDivisionError: division by zero (broken.py, line 3)",
        ),
    ],
    ids=["cycle", "duplicate-task", "syntax-error", "exception"],
)
def test_unloadable_dag_exits_2_naming_the_file(
    cli: Any, tmp_path: Path, source: str, message: str
) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "broken.py").write_text(source)
    result = dags_test(cli, "broken", "--dags-folder", str(folder), "-o", "json")
    assert result.exit_code == 2
    assert f"Error in {folder / 'broken.py'}: " in result.stderr
    assert message in result.stderr
    assert result.stdout == ""


def test_dags_folder_defaults(cli: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "tiny.py").write_text(
        "from tradewind import DAG, EmptyOperator\nwith DAG('tiny', schedule=None):\n    "
        "EmptyOperator(task_id='t')\n"
    )
    assert dags_test(cli, "tiny").exit_code == 0
    by_setting = dags_test(
        cli, "branch_join", "-o", "json", env={"TRADEWIND__CORE__DAGS_FOLDER": str(DAGS)}
    )
    assert by_setting.exit_code == 0 and json.loads(by_setting.stdout)["dag_id"] == "branch_join"
    assert dags_test(cli, "branch_join").exit_code == 2


def test_logging_handlers_do_not_outlive_the_command(cli: Any) -> None:
    before = list(logging.getLogger("tradewind").handlers)
    dags_test(cli, "branch_join", "--dags-folder", str(DAGS), "-o", "json")
    assert logging.getLogger("tradewind").handlers == before


def test_tasks_test(cli: Any) -> None:
    ok = cli(tasks_group, "test", "branch_join", "start", "2024-03-01", "--dags-folder", str(DAGS))
    assert ok.exit_code == 0 and "Task start: success" in ok.stdout
    failing = cli(
        tasks_group, "test", "retries_exhausted", "always_fails", "--dags-folder", str(DAGS)
    )
    assert failing.exit_code == 1 and "Task always_fails: failed" in failing.stdout
    skipped = cli(
        tasks_group,
        "test",
        "sensors_bash",
        "weekend_only",
        "2024-03-01",
        "--dags-folder",
        str(DAGS),
    )
    assert skipped.exit_code == 0 and "Task weekend_only: skipped" in skipped.stdout
    mapped = cli(
        tasks_group,
        "test",
        "mapped_files",
        "echo_file",
        "--map-index",
        "1",
        "--dags-folder",
        str(DAGS),
    )
    assert mapped.exit_code == 0 and "INFO - b" in mapped.stdout
    unknown = cli(tasks_group, "test", "branch_join", "nope", "--dags-folder", str(DAGS))
    assert unknown.exit_code == 2 and "task 'nope' not found in DAG 'branch_join'" in unknown.stderr


def test_tasks_test_with_task_params(cli: Any, tmp_path: Path) -> None:
    result = cli(
        tasks_group, "test", "sensors_bash", "write_marker", "2024-03-01",
        "--dags-folder", str(DAGS),
        "--task-params", json.dumps({"workdir": str(tmp_path)}),
    )  # fmt: skip
    assert result.exit_code == 0
    assert (tmp_path / "ready_20240301.txt").read_text() == "2024-03-01\n"


def test_tasks_list(cli: Any) -> None:
    flat = cli(tasks_group, "list", "branch_join", "--dags-folder", str(DAGS))
    assert flat.stdout.split() == sorted(
        [
            "start",
            "choose_source",
            "from_api",
            "from_db",
            "join",
            "strict_join",
            "after_strict_join",
            "report",
        ]
    )
    tree = cli(tasks_group, "list", "branch_empty_path", "--tree", "--dags-folder", str(DAGS))
    assert tree.stdout.splitlines() == [
        "<Task(BranchPythonOperator): branch>",
        "    <Task(EmptyOperator): join>",
        "    <Task(EmptyOperator): other>",
        "        <Task(EmptyOperator): join>",
        "    <Task(EmptyOperator): work>",
        "        <Task(EmptyOperator): join>",
    ]


def test_dags_show(cli: Any) -> None:
    dot = cli(dags_group, "show", "branch_empty_path", "--dags-folder", str(DAGS))
    assert dot.exit_code == 0
    assert dot.stdout.startswith('digraph "branch_empty_path" {')
    assert '"branch" -> "work";' in dot.stdout and '"other" -> "join";' in dot.stdout
    grouped = cli(dags_group, "show", "task_groups", "--dags-folder", str(DAGS))
    assert 'subgraph "cluster_transform.clean"' in grouped.stdout
    ascii_ = cli(dags_group, "show", "branch_empty_path", "--ascii", "--dags-folder", str(DAGS))
    assert ascii_.stdout.splitlines() == [
        "DAG branch_empty_path",
        "layer 0:",
        "  [branch] -> join, other, work",
        "layer 1:",
        "  [work] -> join",
        "  [other] -> join",
        "layer 2:",
        "  [join]",
    ]


def test_dags_list(cli: Any, tmp_path: Path) -> None:
    listed = cli(dags_group, "list", "--dags-folder", str(DAGS), "-o", "json")
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert [row["dag_id"] for row in rows][:3] == [
        "branch_empty_path",
        "branch_join",
        "failure_fails_run",
    ]
    branch = next(row for row in rows if row["dag_id"] == "branch_join")
    assert {key: branch[key] for key in ("dag_id", "fileloc", "owners", "schedule", "tags")} == {
        "dag_id": "branch_join",
        "fileloc": str(DAGS / "branch_join.py"),
        "owners": "tradewind",
        "schedule": "@daily",
        "tags": ["branching"],
    }
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "ok.py").write_text("from tradewind import DAG\nDAG('ok', schedule=None)\n")
    (folder / "bad.py").write_text("from tradewind import DAG\nDAG('bad', schedule='@daily')\n")
    mixed = cli(dags_group, "list", "--dags-folder", str(folder))
    assert mixed.exit_code == 0 and "ok" in mixed.stdout
    assert (
        f"Import error in {folder / 'bad.py'}: DagDefinitionError: DAG 'bad' has schedule"
        in mixed.stderr
    )


# -- the real command ------------------------------------------------------------------------


NOISY_DAG = """
import os
import subprocess
from tradewind import DAG, task

with DAG("noisy", schedule=None):
    @task
    def talk():
        print("from print")
        os.system("echo from os.system")
        subprocess.run(["echo", "from a child process"], check=True)
        return 1

    talk()
"""


@pytest.mark.slow
def test_real_command_prints_only_json_on_stdout(tmp_path: Path) -> None:
    (tmp_path / "noisy.py").write_text(NOISY_DAG)
    completed = subprocess.run(
        [sys.executable, "-m", "tradewind.cli.main", "dags", "test", "noisy", "2024-03-01",
         "--dags-folder", str(tmp_path), "-o", "json"],
        capture_output=True, text=True, timeout=60,
        env={"TRADEWIND_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["tasks"]["talk"]["state"] == "success"
    for line in ("from print", "from os.system", "from a child process"):
        assert line in completed.stderr
