"""The run commands as users and scripts see them: ``dags trigger/pause/unpause/list-runs/state/
next-execution`` and ``tasks states-for-dag-run/logs`` (names, flags, exit codes, JSON shapes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from tradewind.cli.main import cli
from tradewind.dag_processing.manager import DagProcessor
from tradewind.db.models import Dag, DagRun
from tradewind.runner.log_paths import try_log_path

RUN_KEYS = {
    "run_id",
    "state",
    "run_type",
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "start_date",
    "end_date",
}

PIPELINE = """
    from datetime import datetime
    from tradewind import DAG, Param, PythonOperator, task

    with DAG("pipeline", schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False,
             params={"size": Param(3, type="integer", minimum=1)}) as dag:
        @task
        def items(params=None):
            print("making", params["size"], "items")
            return list(range(params["size"]))

        @task
        def square(x):
            return x * x

        def boom():
            raise ValueError("boom")

        squares = square.expand(x=items())
        squares >> PythonOperator(task_id="fails", python_callable=boom)
"""


@pytest.fixture
def run(harness, tradewind_env: dict[str, str]):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    env = {**tradewind_env, "TRADEWIND__CORE__DAGS_FOLDER": str(harness.folder)}

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), env=env)

    return invoke


def _run_count(harness) -> int:
    return harness.read(lambda s: s.scalar(select(func.count()).select_from(DagRun)))


def _error(result: Result) -> str:
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_trigger_stores_a_run_and_rejects_bad_input(harness, run) -> None:
    harness.write("pipeline.py", PIPELINE)
    harness.parse()
    result = run(
        "dags",
        "trigger",
        "pipeline",
        "--conf",
        '{"size": 2}',
        "--run-id",
        "mine",
        "--logical-date",
        "2024-02-03T04:05:06+00:00",
        "-o",
        "json",
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert (created["dag_id"], created["run_id"], created["state"], created["run_type"]) == (
        "pipeline",
        "mine",
        "queued",
        "manual",
    )
    assert created["logical_date"] == "2024-02-03T04:05:06+00:00"
    assert created["conf"] == {"size": 2}
    plain = run("dags", "trigger", "pipeline")
    assert plain.exit_code == 0 and plain.stdout.startswith("Created run manual__")

    before = _run_count(harness)
    assert "not found" in _error(run("dags", "trigger", "nope"))
    assert "not valid JSON" in _error(run("dags", "trigger", "pipeline", "--conf", "{size: 2"))
    assert "JSON object" in _error(run("dags", "trigger", "pipeline", "--conf", "[1, 2]"))
    assert "invalid conf" in _error(run("dags", "trigger", "pipeline", "--conf", '{"size": 0}'))
    assert "already has a run with run_id 'mine'" in _error(
        run("dags", "trigger", "pipeline", "--run-id", "mine")
    )
    assert "already has a run at logical date" in _error(
        run("dags", "trigger", "pipeline", "--logical-date", "2024-02-03T04:05:06+00:00")
    )
    assert "is not allowed" in _error(run("dags", "trigger", "pipeline", "--run-id", "a/b c"))
    assert "ISO 8601" in _error(run("dags", "trigger", "pipeline", "--logical-date", "yesterday"))
    assert _run_count(harness) == before


def test_pause_unpause_next_execution_and_new_dags_start_paused(
    harness, run, settings, engine
) -> None:
    harness.write("pipeline.py", PIPELINE)
    DagProcessor(settings.with_values(core__dags_folder=str(harness.folder)), engine).run_once()

    def paused() -> bool | None:
        return harness.read(
            lambda s: s.scalar(select(Dag.is_paused).where(Dag.dag_id == "pipeline"))
        )

    assert paused() is True  # the default: new DAGs start paused
    assert run("dags", "unpause", "pipeline").stdout == "DAG pipeline is unpaused\n"
    assert paused() is False
    result = run("dags", "next-execution", "pipeline")
    assert result.exit_code == 0
    assert datetime.fromisoformat(result.stdout.strip()).tzinfo is not None
    assert run("dags", "pause", "pipeline").stdout == "DAG pipeline is paused\n"
    assert paused() is True
    assert "not found" in _error(run("dags", "pause", "nope"))
    assert "not found" in _error(run("dags", "next-execution", "nope"))


def test_list_runs_state_and_states_for_dag_run(harness, run) -> None:
    harness.write("pipeline.py", PIPELINE)
    harness.parse()
    run_id = harness.trigger("pipeline", run_id="r1", logical_date=datetime(2024, 3, 1, tzinfo=UTC))
    harness.run_until(harness.run_finished("pipeline", run_id), timeout=30)

    runs = json.loads(run("dags", "list-runs", "pipeline", "-o", "json").stdout)
    listed = next(item for item in runs if item["run_id"] == "r1")
    assert set(listed) == RUN_KEYS
    assert (listed["state"], listed["run_type"], listed["logical_date"]) == (
        "failed",
        "manual",
        "2024-03-01T00:00:00+00:00",
    )
    for key in ("data_interval_start", "data_interval_end", "start_date", "end_date"):
        assert datetime.fromisoformat(listed[key]).tzinfo is not None
    assert run("dags", "state", "pipeline", "r1").stdout == "failed\n"
    assert run("dags", "state", "pipeline", "2024-03-01T00:00:00+00:00").stdout == "failed\n"
    assert "has no run 'r9'" in _error(run("dags", "state", "pipeline", "r9"))
    assert "not found" in _error(run("dags", "list-runs", "nope"))

    states = json.loads(run("tasks", "states-for-dag-run", "pipeline", "r1", "-o", "json").stdout)
    assert states == {
        "dag_id": "pipeline",
        "run_id": "r1",
        "state": "failed",
        "tasks": {
            "items": {
                "state": "success",
                "try_number": 1,
                "duration": states["tasks"]["items"]["duration"],
            },
            **{
                f"square[{i}]": {
                    "state": "success",
                    "try_number": 1,
                    "duration": states["tasks"][f"square[{i}]"]["duration"],
                }
                for i in range(3)
            },
            "fails": {
                "state": "failed",
                "try_number": 1,
                "duration": states["tasks"]["fails"]["duration"],
            },
        },
    }
    assert list(states["tasks"]) == ["items", "square[0]", "square[1]", "square[2]", "fails"]
    table = run("tasks", "states-for-dag-run", "pipeline", "r1").stdout
    assert "square[2]" in table and "DAG run r1: failed" in table
    assert "has no run" in _error(run("tasks", "states-for-dag-run", "pipeline", "r9"))

    # The same keys and fields as `dags test -o json` of the same DAG.
    tested = run("dags", "test", "pipeline", "-o", "json")
    assert tested.exit_code == 1
    local = json.loads(tested.stdout)
    assert set(local) == set(states)
    assert {k: (v["state"], v["try_number"]) for k, v in local["tasks"].items()} == {
        k: (v["state"], v["try_number"]) for k, v in states["tasks"].items()
    }


def test_task_logs(harness, run) -> None:
    harness.write("pipeline.py", PIPELINE)
    harness.parse()
    run_id = harness.trigger("pipeline", run_id="r1")
    harness.run_until(harness.run_finished("pipeline", run_id), timeout=30)

    result = run("tasks", "logs", "pipeline", "r1", "items")
    assert result.exit_code == 0
    assert "making 3 items" in result.stdout
    assert (
        result.stdout
        == try_log_path(harness.settings.log_folder, "pipeline", "r1", "items", -1, 1).read_text()
    )
    assert run("tasks", "logs", "pipeline", "r1", "items", "--try", "1").stdout == result.stdout
    assert (
        run("tasks", "logs", "pipeline", "r1", "items", "--follow").stdout == result.stdout
    )  # finished: ends at once
    mapped = run("tasks", "logs", "pipeline", "r1", "square", "--map-index", "2")
    assert mapped.exit_code == 0 and "map_index=2" in mapped.stdout
    assert "give --map-index" in _error(run("tasks", "logs", "pipeline", "r1", "square"))
    assert "no map index 7" in _error(
        run("tasks", "logs", "pipeline", "r1", "square", "--map-index", "7")
    )
    assert "has no try 2" in _error(run("tasks", "logs", "pipeline", "r1", "items", "--try", "2"))
    assert "has no task 'nope'" in _error(run("tasks", "logs", "pipeline", "r1", "nope"))
    assert "has no run" in _error(run("tasks", "logs", "pipeline", "r9", "items"))
