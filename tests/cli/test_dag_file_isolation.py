"""The commands that run a DAG in this process (``dags test``, ``tasks test``, ``tasks list``,
``dags show``) import only the file that defines it: other files of the folder are imported
in child processes, as the DAG processor does, so one that crashes the interpreter cannot take
the command down; and when the defining file itself does, the command says so and exits 2.

These run the real ``tradewind`` command: a crash imported in-process would end the test run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CRASHES = (
    "from tradewind import DAG  # a DAG file that mentions good_dag too\nimport os\nos.abort()\n"
)
GOOD = """\
from tradewind import DAG, task

with DAG("good_dag", schedule=None):
    @task
    def hello():
        print("hello from good_dag")
        return 1

    hello()
"""
COMPUTED_ID = """\
from tradewind import DAG, EmptyOperator

with DAG("_".join(["computed", "id"]), schedule=None):
    EmptyOperator(task_id="only")
"""
DEFINES_THEN_CRASHES = """\
import os
from tradewind import DAG, EmptyOperator

with DAG("doomed", schedule=None):
    EmptyOperator(task_id="never")
os.abort()
"""


def tradewind(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradewind.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"TRADEWIND_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "a_crashes.py").write_text(CRASHES)  # sorts first, and mentions the id
    (folder / "good.py").write_text(GOOD)
    (folder / "computed.py").write_text(COMPUTED_ID)
    (folder / "doomed.py").write_text(DEFINES_THEN_CRASHES)
    return folder


def test_dags_test_survives_another_file_that_aborts(tmp_path: Path, folder: Path) -> None:
    done = tradewind(
        tmp_path, "dags", "test", "good_dag", "--dags-folder", str(folder), "-o", "json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tasks"]["hello"]["state"] == "success"
    assert "hello from good_dag" in done.stderr


def test_a_dag_whose_id_is_not_in_its_file_is_found_too(tmp_path: Path, folder: Path) -> None:
    done = tradewind(
        tmp_path, "dags", "test", "computed_id", "--dags-folder", str(folder), "-o", "json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "success"


def test_the_other_dag_commands_survive_it_too(tmp_path: Path, folder: Path) -> None:
    tested = tradewind(tmp_path, "tasks", "test", "good_dag", "hello", "--dags-folder", str(folder))
    assert tested.returncode == 0 and "Task hello: success" in tested.stdout, tested.stderr
    listed = tradewind(tmp_path, "tasks", "list", "good_dag", "--dags-folder", str(folder))
    assert listed.returncode == 0 and listed.stdout.split() == ["hello"], listed.stderr
    shown = tradewind(tmp_path, "dags", "show", "good_dag", "--dags-folder", str(folder))
    assert shown.returncode == 0 and shown.stdout.startswith('digraph "good_dag" {'), shown.stderr
    every = tradewind(tmp_path, "dags", "list", "--dags-folder", str(folder), "-o", "json")
    assert every.returncode == 0, every.stderr
    assert sorted(row["dag_id"] for row in json.loads(every.stdout)) == ["computed_id", "good_dag"]


def test_a_defining_file_that_aborts_is_reported_with_exit_2(tmp_path: Path, folder: Path) -> None:
    for command in (
        ["dags", "test", "doomed"],
        ["tasks", "test", "doomed", "never"],
        ["dags", "show", "doomed"],
    ):
        done = tradewind(tmp_path, *command, "--dags-folder", str(folder))
        assert done.returncode == 2, (command, done.returncode, done.stderr)
        assert (
            f"Error in {folder / 'doomed.py'}: the interpreter was killed by signal SIGABRT while "
            "importing the file (doomed.py, line 6)"
        ) in done.stderr
        assert f"Error: DAG 'doomed' not found in {folder}" in done.stderr
        assert done.stdout == ""


def test_dags_list_cuts_a_huge_import_error(tmp_path: Path, folder: Path) -> None:
    (folder / "loud.py").write_text(
        "from tradewind import DAG\nraise ValueError('w' * 1_000_000)\n"
    )
    listed = tradewind(tmp_path, "dags", "list", "--dags-folder", str(folder))
    assert listed.returncode == 0, listed.stderr[:2000]
    [line] = [line for line in listed.stderr.splitlines() if "loud.py" in line]
    assert (
        line.startswith(f"Import error in {folder / 'loud.py'}: ValueError: www")
        and len(line) < 1200
    )
    assert line.endswith("characters cut]")
