"""``BashOperator`` and ``@task.bash``."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tradewind import DAG, BashOperator, task
from tradewind.runner.xcom_store import MISSING, InMemoryXComStore
from tradewind.services.dag_test import LocalDagRun, make_run_info


def run_tasks(dag: DAG) -> tuple[dict[str, str], dict[str, Any]]:
    """Run the DAG; return each task's state and its return value (MISSING when none)."""
    xcoms = InMemoryXComStore()
    run = make_run_info(dag, datetime(2024, 3, 1), {})
    result = LocalDagRun(dag, run, xcoms=xcoms, use_retry_delay=False).execute()
    states = {ti.key: ti.state.value for ti in result.task_instances if ti.state}
    values = {
        ti.key: xcoms.get(dag.dag_id, run.run_id, ti.task_id, ti.map_index, "return_value")
        for ti in result.task_instances
    }
    return states, values


def test_last_line_of_output_is_the_xcom() -> None:
    with DAG("bash_output", schedule=None) as dag:
        BashOperator(task_id="lines", bash_command="echo first; echo second")
        BashOperator(task_id="stderr_too", bash_command="echo out; echo err >&2")
        BashOperator(task_id="silent", bash_command="true")
        BashOperator(
            task_id="processed", bash_command="echo 41", output_processor=lambda out: int(out) + 1
        )
        BashOperator(task_id="not_pushed", bash_command="echo x", do_xcom_push=False)
    states, values = run_tasks(dag)
    assert set(states.values()) == {"success"}
    assert values == {
        "lines": "second",
        "stderr_too": "err",
        "silent": "",
        "processed": 42,
        "not_pushed": MISSING,
    }


@pytest.mark.parametrize(
    ("command", "skip_on_exit_code", "state"),
    [
        ("exit 99", 99, "skipped"),
        ("exit 99", None, "failed"),
        ("exit 3", 99, "failed"),
        ("exit 3", [3, 4], "skipped"),
        ("exit 0", [0], "skipped"),
        ("false", 99, "failed"),
    ],
)
def test_exit_codes(command: str, skip_on_exit_code: Any, state: str) -> None:
    with DAG("bash_exit", schedule=None) as dag:
        BashOperator(task_id="t", bash_command=command, skip_on_exit_code=skip_on_exit_code)
    assert run_tasks(dag)[0] == {"t": state}


def test_default_skip_exit_code_is_99() -> None:
    with DAG("bash_default_skip", schedule=None) as dag:
        op = BashOperator(task_id="t", bash_command="exit 99")
    assert op.skip_on_exit_code == [99]
    assert run_tasks(dag)[0] == {"t": "skipped"}


def test_env_replaces_the_environment_unless_appended(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TW_TEST_INHERITED", "inherited")
    with DAG("bash_env", schedule=None) as dag:
        BashOperator(task_id="inherit", bash_command="echo $TW_TEST_INHERITED")
        BashOperator(
            task_id="replaced",
            bash_command='echo "${TW_TEST_INHERITED:-unset}:$MINE"',
            env={"MINE": "{{ ds }}"},
        )
        BashOperator(
            task_id="appended",
            bash_command='echo "$TW_TEST_INHERITED:$MINE"',
            env={"MINE": "mine"},
            append_env=True,
        )
        BashOperator(
            task_id="context",
            bash_command=(
                "echo $AIRFLOW_CTX_DAG_ID/$TRADEWIND_CTX_TASK_ID/$AIRFLOW_CTX_TRY_NUMBER/"
                "$AIRFLOW_CTX_DAG_RUN_ID"
            ),
            env={},
        )
    values = run_tasks(dag)[1]
    assert values["inherit"] == "inherited"
    assert values["replaced"] == "unset:2024-03-01"
    assert values["appended"] == "inherited:mine"
    assert values["context"] == "bash_env/context/1/manual__2024-03-01T00:00:00+00:00"


def test_cwd(tmp_path: Path) -> None:
    (tmp_path / "marker.txt").write_text("here\n")
    with DAG("bash_cwd", schedule=None, params={"folder": str(tmp_path)}) as dag:
        BashOperator(
            task_id="templated_cwd", bash_command="cat marker.txt", cwd="{{ params.folder }}"
        )
        BashOperator(task_id="missing_cwd", bash_command="pwd", cwd=str(tmp_path / "nope"))
    states, values = run_tasks(dag)
    assert values["templated_cwd"] == "here"
    assert states["missing_cwd"] == "failed"


def test_empty_command_fails() -> None:
    with DAG("bash_empty", schedule=None) as dag:
        BashOperator(task_id="empty", bash_command="   ")
    assert run_tasks(dag)[0] == {"empty": "failed"}


def test_task_bash_decorator() -> None:
    with DAG("bash_decorated", schedule=None, params={"greeting": "hello"}) as dag:

        @task
        def name():
            return "world"

        @task.bash(env={"SUFFIX": "!"}, append_env=True)
        def greet(who, params=None):
            return f'echo "{params["greeting"]} {who} {{{{ ds }}}}$SUFFIX"'

        @task.bash
        def nothing():
            return ""

        @task.bash(skip_on_exit_code=7)
        def skip():
            return "exit 7"

        greet(name())
        nothing()
        skip()
    states, values = run_tasks(dag)
    assert states == {"name": "success", "greet": "success", "nothing": "failed", "skip": "skipped"}
    assert values["greet"] == "hello world 2024-03-01!"


def test_shell_script_file_is_rendered_and_run(tmp_path: Path) -> None:
    script = tmp_path / "job.sh"
    script.write_text('echo "day={{ ds_nodash }} cwd=$(basename $(pwd))"\n')
    with DAG("bash_script", schedule=None, template_searchpath=[str(tmp_path)]) as dag:
        BashOperator(task_id="script", bash_command="job.sh", cwd=str(tmp_path))
    assert run_tasks(dag)[1]["script"] == f"day=20240301 cwd={os.path.basename(tmp_path)}"


def test_airflow_home_is_tradewind_s_home_unless_the_environment_sets_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRADEWIND_HOME", str(tmp_path))
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    with DAG("bash_homes", schedule=None) as dag:
        BashOperator(task_id="inherited", bash_command="echo $AIRFLOW_HOME")
        BashOperator(task_id="replaced", bash_command="echo $AIRFLOW_HOME", env={"A": "1"})
        BashOperator(
            task_id="given",
            bash_command="echo $AIRFLOW_HOME:$TRADEWIND_HOME",
            env={"AIRFLOW_HOME": "/srv/airflow"},
        )
    values = run_tasks(dag)[1]
    assert values["inherited"] == values["replaced"] == str(tmp_path)
    assert values["given"] == f"/srv/airflow:{tmp_path}"
