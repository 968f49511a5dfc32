"""Re-runs from the command line: ``tasks clear``, ``dags clear``, ``tasks mark-success|failed``
and ``dags mark-success|failed``, on runs the scheduler really ran (in this process).

DAG ``pipeline``: extract >> transform >> load, and report on its own. A backfill of three
days runs it; on the third day transform fails (until a flag file exists), so load is
upstream_failed there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from backfill import dags
from backfill.helpers import backfill_done
from click.testing import CliRunner, Result
from scheduler.conftest import SchedulerHarness

from tradewind.cli.main import cli as tradewind_cli
from tradewind.services import task_instances

PIPELINE = """
with DAG("pipeline", schedule="@daily", start_date=datetime(2024, 1, 1),
         is_paused_upon_creation=True,
         params={{"fail_unless": ["2024-01-03", {fixed!r}, "transform"]}}) as dag:
    extract = PythonOperator(task_id="extract", python_callable=work)
    transform = PythonOperator(task_id="transform", python_callable=work)
    load = PythonOperator(task_id="load", python_callable=work)
    report = PythonOperator(task_id="report", python_callable=work)
    extract >> transform >> load
"""
RUN = {n: f"backfill__2024-01-0{n}T00:00:00+00:00" for n in (1, 2, 3)}
TASKS = ("extract", "load", "report", "transform")


@pytest.fixture
def cli(tradewind_env: dict[str, str]) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(tradewind_cli, list(args), env=tradewind_env, input=input)

    return invoke


@pytest.fixture
def pipeline(
    harness: SchedulerHarness, cli: Callable[..., Result], tmp_path: Path
) -> SchedulerHarness:
    """Three runs of ``pipeline``: days 1 and 2 succeeded, day 3 failed in transform."""
    harness.journal = tmp_path / "journal"  # type: ignore[attr-defined]
    harness.fixed = tmp_path / "fixed"  # type: ignore[attr-defined]
    dags.write(harness, "pipeline.py", PIPELINE.format(fixed=str(harness.fixed)), harness.journal)  # type: ignore[attr-defined]
    harness.parse()
    result = cli(
        "dags", "backfill", "pipeline", "-s", "2024-01-01", "-e", "2024-01-03", "--no-wait"
    )
    assert result.exit_code == 0, result.output
    harness.run_until(backfill_done(harness), timeout=30)
    assert _run_states(harness) == ["success", "success", "failed"]
    return harness


def _run_states(harness: Any) -> list[str]:
    return [run.state for run in harness.runs("pipeline")]


def _tis(harness: Any, day: int) -> dict[str, tuple[str | None, int]]:
    return {ti.task_id: (ti.state, ti.try_number) for ti in harness.tis("pipeline", RUN[day])}


def _listed(result: Result) -> list[tuple[int, str]]:
    """(day, task) of each task instance a clear command lists."""
    found = []
    for line in result.output.splitlines():
        if line.startswith("  backfill__"):
            run_id, task_id, _state = line.split()
            found.append((int(run_id[18:20]), task_id))
    return found


def _finish(harness: Any, seen: list[str] | None = None) -> None:
    """Run the scheduler until no run is queued or running (noting the run states it passes)."""

    def note() -> None:
        if seen is not None:
            seen.extend(_run_states(harness))

    harness.run_until(
        lambda: not {"queued", "running"} & set(_run_states(harness)), timeout=30, on_pass=note
    )


def test_tasks_clear_runs_a_task_again_keeping_earlier_tries_and_logs(pipeline, cli) -> None:
    result = cli(
        "tasks",
        "clear",
        "pipeline",
        "-t",
        "^transform$",
        "-s",
        "2024-01-02",
        "-e",
        "2024-01-02",
        "--yes",
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "1 task instance(s) to clear:",
        f"  {RUN[2]}  transform  (success)",
        "Cleared 1 task instance(s); the scheduler will run them again",
    ]
    assert _tis(pipeline, 2)["transform"] == (None, 1)
    assert _run_states(pipeline) == ["success", "queued", "failed"]
    seen: list[str] = []
    _finish(pipeline, seen)
    assert "running" in seen  # the run went back to running
    assert _run_states(pipeline) == ["success", "success", "failed"]
    assert _tis(pipeline, 2) == {
        "extract": ("success", 1),
        "transform": ("success", 2),
        "load": ("success", 1),
        "report": ("success", 1),
    }
    tries = pipeline.read(
        lambda s: [
            (t.try_number, t.state)
            for t in task_instances.tries(s, "pipeline", RUN[2], "transform")
        ]
    )
    assert tries == [(1, "success"), (2, "success")]
    for number in (1, 2):
        log = cli("tasks", "logs", "pipeline", RUN[2], "transform", "--try", str(number))
        assert log.exit_code == 0 and f"worked on 2024-01-02, try {number}" in log.output, (
            log.output
        )
    assert sorted(dags.order(pipeline.journal, "end", "transform")) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-02",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("-t", "^(extract|report)$"), {(d, t) for d in (1, 2, 3) for t in ("extract", "report")}),
        (
            ("-t", "^transform$", "--downstream"),
            {(d, t) for d in (1, 2, 3) for t in ("transform", "load")},
        ),
        (
            ("-t", "^transform$", "--upstream"),
            {(d, t) for d in (1, 2, 3) for t in ("extract", "transform")},
        ),
        (("-t", "form", "-s", "2024-01-02"), {(2, "transform"), (3, "transform")}),
        (("-e", "2024-01-01"), {(1, t) for t in TASKS}),
        (
            ("-s", "2024-01-02", "-e", "2024-01-02", "-t", "^load$", "-u", "-d"),
            {(2, t) for t in ("extract", "transform", "load")},
        ),
        (("--only-failed",), {(3, "transform"), (3, "load")}),
    ],
)
def test_tasks_clear_selects_by_regex_dates_relatives_and_state(
    pipeline, cli, args, expected
) -> None:
    result = cli("tasks", "clear", "pipeline", *args, "--dry-run")
    assert result.exit_code == 0, result.output
    assert set(_listed(result)) == expected and len(_listed(result)) == len(expected)
    assert result.output.endswith("dry run: nothing was changed\n")
    assert _run_states(pipeline) == ["success", "success", "failed"]


def test_tasks_clear_asks_first_and_refuses_bad_input(pipeline, cli) -> None:
    result = cli("tasks", "clear", "pipeline", "-t", "^report$", input="n\n")
    assert (
        result.exit_code == 1
        and "Clear them? [y/N]" in result.output
        and "Aborted!" in result.output
    )
    assert [_tis(pipeline, d)["report"] for d in (1, 2, 3)] == [("success", 1)] * 3
    result = cli("tasks", "clear", "pipeline", "-t", "^report$", "-e", "2024-01-01", input="y\n")
    assert result.exit_code == 0 and "Cleared 1 task instance(s)" in result.output
    assert _tis(pipeline, 1)["report"] == (None, 1)

    assert (
        cli("tasks", "clear", "pipeline", "-s", "2025-01-01", "--yes").output
        == "No task instances to clear\n"
    )
    for args, message in (
        (("-t", "["), "--task-regex '[' is not a valid regular expression"),
        (("-t", "^nothing$"), "no task of DAG 'pipeline' matches '^nothing$'"),
        (("-s", "yesterday"), "--start-date: not an ISO 8601 date or datetime"),
    ):
        result = cli("tasks", "clear", "pipeline", *args, "--yes")
        assert result.exit_code != 0 and message in result.stderr, result.stderr
    result = cli("tasks", "clear", "nope", "--yes")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: DAG 'nope' not found in the metastore (has the DAG folder been parsed?)\n",
    )


def test_only_failed_reruns_the_failed_part_of_a_run(pipeline, cli) -> None:
    pipeline.fixed.touch()
    result = cli("tasks", "clear", "pipeline", "--only-failed", "--yes")
    assert _listed(result) == [(3, "load"), (3, "transform")]
    _finish(pipeline)
    assert _run_states(pipeline) == ["success"] * 3
    # transform tried again; load ran for the first time; extract and report were left alone.
    assert _tis(pipeline, 3) == {
        "extract": ("success", 1),
        "transform": ("success", 2),
        "load": ("success", 1),
        "report": ("success", 1),
    }


def test_dags_clear_runs_whole_runs_again(pipeline, cli) -> None:
    result = cli("dags", "clear", "pipeline", "-s", "2024-01-01", "-e", "2024-01-01", "--yes")
    assert set(_listed(result)) == {(1, t) for t in TASKS}
    result = cli("dags", "clear", "pipeline", "--run-id", RUN[2], "--yes")
    assert set(_listed(result)) == {(2, t) for t in TASKS}
    assert _run_states(pipeline) == ["queued", "queued", "failed"]
    result = cli("dags", "clear", "pipeline", "--run-id", RUN[3], "--only-failed", "--dry-run")
    assert _listed(result) == [(3, "load"), (3, "transform")]
    _finish(pipeline)
    assert _run_states(pipeline) == ["success", "success", "failed"]
    for day in (1, 2):
        assert _tis(pipeline, day) == {task: ("success", 2) for task in TASKS}
    result = cli("dags", "clear", "pipeline", "--run-id", "nope", "--yes")
    assert (result.exit_code, result.stderr) == (1, "Error: DAG 'pipeline' has no run 'nope'\n")


def test_mark_task_instances_with_their_relatives(pipeline, cli) -> None:
    result = cli("tasks", "mark-failed", "pipeline", RUN[1], "transform", "--downstream")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "Marked 2 task instance(s) failed:"
    assert _tis(pipeline, 1) == {
        "extract": ("success", 1),
        "transform": ("failed", 1),
        "load": ("failed", 1),
        "report": ("success", 1),
    }
    result = cli("tasks", "mark-success", "pipeline", RUN[1], "load", "--upstream")
    assert (
        result.output.splitlines()[0] == "Marked 2 task instance(s) success:"
    )  # extract already was
    assert {task: state for task, (state, _) in _tis(pipeline, 1).items()} == dict.fromkeys(
        TASKS, "success"
    )

    # Marking the failed transform of day 3 success
    # clears its upstream_failed downstream: load runs.
    result = cli("tasks", "mark-success", "pipeline", RUN[3], "transform")
    assert (
        result.exit_code == 0
        and result.output.splitlines()[0] == "Marked 1 task instance(s) success:"
    )
    assert _tis(pipeline, 3)["load"] == (None, 0)
    _finish(pipeline)
    assert _tis(pipeline, 3) == {
        "extract": ("success", 1),
        "transform": ("success", 1),
        "load": ("success", 1),
        "report": ("success", 1),
    }
    assert _run_states(pipeline) == ["success", "success", "success"]

    result = cli("tasks", "mark-success", "pipeline", RUN[3], "transform")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: Task id transform is already in success state\n",
    )
    result = cli("tasks", "mark-failed", "pipeline", RUN[3], "nope")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: Task 'nope' not found in DAG 'pipeline'\n",
    )


def test_mark_runs_success_or_failed(pipeline, cli) -> None:
    result = cli("dags", "mark-success", "pipeline", RUN[3])
    assert (result.exit_code, result.output) == (0, f"Run {RUN[3]} of pipeline is success\n")
    assert {task: state for task, (state, _) in _tis(pipeline, 3).items()} == dict.fromkeys(
        TASKS, "success"
    )
    result = cli("dags", "mark-failed", "pipeline", RUN[2])
    assert (result.exit_code, result.output) == (0, f"Run {RUN[2]} of pipeline is failed\n")
    assert _run_states(pipeline) == ["success", "failed", "success"]
    assert {task: state for task, (state, _) in _tis(pipeline, 2).items()} == dict.fromkeys(
        TASKS, "success"
    )
    result = cli("dags", "mark-success", "pipeline", "nope")
    assert (result.exit_code, result.stderr) == (1, "Error: DAG 'pipeline' has no run 'nope'\n")
