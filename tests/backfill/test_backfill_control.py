"""``tradewind dags backfill`` and ``tradewind backfill``: dry runs, bad input, waiting with a
progress bar, and pausing, resuming and cancelling a stored backfill.

Commands run through click in this process, except where the test needs a command that waits
while the scheduler (in this process) works: that one is a real ``tradewind`` process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tradewind.sdk import timezone

from . import dags
from .helpers import backfill_done, backfills, counts, created_id

TRADEWIND = str(Path(sys.executable).with_name("tradewind"))

GATED = """
    with DAG("gated", schedule="@daily", start_date=datetime(2024, 1, 1),
             end_date=datetime(2024, 6, 30),
             is_paused_upon_creation=True, params={{"gate": {gate!r}}}) as dag:
        PythonOperator(task_id="t", python_callable=work)
"""


@pytest.fixture
def gate(harness: Any, tmp_path: Path) -> Path:
    """DAG ``gated`` parsed: its task waits until the returned path exists."""
    path = tmp_path / "gate"
    dags.write(harness, "gated.py", GATED.format(gate=str(path)), tmp_path / "journal")
    harness.parse()
    return path


def _states(harness: Any) -> list[str]:
    return [run.state for run in harness.runs("gated")]


def test_dry_run_lists_what_would_happen_and_changes_nothing(harness, cli, gate) -> None:
    gate.touch()
    before = counts(harness)
    result = cli("dags", "backfill", "gated", "-s", "2024-01-01", "-e", "2024-01-03", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "2024-01-01T00:00:00+00:00  [2024-01-01T00:00:00+00:00, 2024-01-02T00:00:00+00:00)  create",
        "2024-01-02T00:00:00+00:00  [2024-01-02T00:00:00+00:00, 2024-01-03T00:00:00+00:00)  create",
        "2024-01-03T00:00:00+00:00  [2024-01-03T00:00:00+00:00, 2024-01-04T00:00:00+00:00)  create",
        "3 intervals; dry run: nothing was changed",
    ]
    assert counts(harness) == before

    assert (
        cli(
            "dags", "backfill", "gated", "-s", "2024-01-02", "-e", "2024-01-02", "--no-wait"
        ).exit_code
        == 0
    )
    harness.run_until(backfill_done(harness), timeout=30)
    before = counts(harness)
    result = cli(
        "dags",
        "backfill",
        "gated",
        "-s",
        "2024-01-01",
        "-e",
        "2024-01-03",
        "--dry-run",
        "--reprocess-behavior",
        "completed",
        "--run-backwards",
    )
    lines = result.output.splitlines()
    assert [line.split()[3] for line in lines[:3]] == ["create", "rerun", "create"]
    assert lines[0].startswith("2024-01-03") and "was success" in lines[1]
    assert counts(harness) == before
    result = cli("dags", "backfill", "gated", "-s", "2024-01-01", "-e", "2024-01-03", "--dry-run")
    assert (
        "skip (run backfill__2024-01-02T00:00:00+00:00 already exists (success))" in result.output
    )

    # A range reaching past the DAG's start_date or end_date is cut to them.
    for start, end, first, last in (
        ("2023-12-30", "2024-01-02", "2024-01-01", "2024-01-02"),
        ("2024-06-29", "2024-07-10", "2024-06-29", "2024-06-30"),
    ):
        lines = cli(
            "dags", "backfill", "gated", "-s", start, "-e", end, "--dry-run"
        ).output.splitlines()
        assert [lines[0][:10], lines[-2][:10], lines[-1]] == [
            first,
            last,
            "2 intervals; dry run: nothing was changed",
        ]
    assert counts(harness) == before


NO_SCHEDULE = """
    with DAG("manual", schedule=None, start_date=datetime(2024, 1, 1)) as manual:
        EmptyOperator(task_id="t")
    with DAG("once", schedule="@once", start_date=datetime(2024, 1, 1)) as once:
        EmptyOperator(task_id="t")
    with DAG("strict", schedule="@daily", start_date=datetime(2024, 1, 1),
             is_paused_upon_creation=True,
             params={"n": Param(1, type="integer")}) as strict:
        EmptyOperator(task_id="t", depends_on_past=True)
"""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "-s", "2024-01-01", "-e", "2024-01-02"), "DAG 'nope' not found"),
        (
            ("gated", "-s", "2024-01-05", "-e", "2024-01-01"),
            "the end date 2024-01-01T00:00:00+00:00 is before the start date",
        ),
        (
            ("gated", "-s", "2023-01-01", "-e", "2023-12-31"),
            "ends before the DAG's start_date 2024-01-01",
        ),
        (
            ("gated", "-s", "2024-07-01", "-e", "2024-07-31"),
            "starts after the DAG's end_date 2024-06-30",
        ),
        (
            ("manual", "-s", "2024-01-01", "-e", "2024-01-02"),
            "DAG 'manual' has no periodic schedule (None): nothing to backfill",
        ),
        (
            ("once", "-s", "2024-01-01", "-e", "2024-01-02"),
            "DAG 'once' has no periodic schedule (@once)",
        ),
        (("strict", "-s", "2999-01-01", "-e", "2999-01-31"), "in the future"),
        (
            ("strict", "-s", "2024-01-01", "-e", "2024-01-02", "--max-active-runs", "0"),
            "--max-active-runs must be at least 1",
        ),
        (
            ("strict", "-s", "2024-01-01", "-e", "2024-01-02", "--run-backwards"),
            "cannot run backwards: tasks t have depends_on_past",
        ),
        (
            ("strict", "-s", "2024-01-01", "-e", "2024-01-02", "--conf", '{"n": "x"}'),
            "invalid conf for DAG 'strict'",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_created(
    harness, cli, gate, args, message
) -> None:
    harness.write(
        "no_schedule.py",
        "from datetime import datetime\nfrom tradewind import DAG, EmptyOperator, Param\n"
        + NO_SCHEDULE.replace("\n    ", "\n"),
    )
    harness.parse()
    before = counts(harness)
    for extra in (("--no-wait",), ("--dry-run",)):
        result = cli("dags", "backfill", *args, *extra)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("Error: ") and message in result.stderr, result.stderr
        assert result.stdout == ""
        assert counts(harness) == before


def test_only_intervals_that_have_ended_are_backfilled(harness, cli, gate) -> None:
    gate.touch()
    harness.write(
        "recent.py",
        """
        from datetime import datetime
        from tradewind import DAG, EmptyOperator
        with DAG("recent", schedule="@daily", start_date=datetime(2024, 1, 1),
                 is_paused_upon_creation=True) as dag:
            EmptyOperator(task_id="t")
    """,
    )
    harness.parse()
    today = timezone.utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    result = cli(
        "dags",
        "backfill",
        "recent",
        "-s",
        (today - timedelta(days=2)).isoformat(),
        "-e",
        (today + timedelta(days=2)).isoformat(),
        "--no-wait",
    )
    assert result.exit_code == 0, result.output
    assert "2 intervals, 2 new runs" in result.output  # today's interval has not ended yet
    assert [run.logical_date for run in harness.runs("recent")] == [
        today - timedelta(days=2),
        today - timedelta(days=1),
    ]


def test_pause_holds_runs_back_and_resume_lets_them_go(harness, cli, gate) -> None:
    gate.touch()
    result = cli(
        "dags",
        "backfill",
        "gated",
        "-s",
        "2024-01-01",
        "-e",
        "2024-01-04",
        "--max-active-runs",
        "2",
        "--no-wait",
    )
    assert result.exit_code == 0, result.output
    number = str(created_id(result.output))
    result = cli("backfill", "pause", number)
    assert (result.exit_code, result.output) == (0, f"Backfill {number} of gated is paused\n")
    harness.scheduler(scheduler__max_loop_interval=0.05).run(max_passes=3)
    assert _states(harness) == ["queued"] * 4
    (row,) = json.loads(cli("backfill", "list", "-o", "json").output)
    assert {
        key: row[key]
        for key in ("id", "dag_id", "state", "is_paused", "runs", "done", "failed", "created_by")
    } == {
        "id": int(number),
        "dag_id": "gated",
        "state": "paused",
        "is_paused": True,
        "runs": 4,
        "done": 0,
        "failed": 0,
        "created_by": "cli",
    }

    assert cli("backfill", "resume", number).output == f"Backfill {number} of gated is running\n"
    paused = []

    def pause_once_started() -> None:
        if not paused and "running" in _states(harness):
            paused.append(cli("backfill", "pause", number).exit_code)

    harness.run_until(
        lambda: _states(harness) == ["success", "success", "queued", "queued"],
        timeout=30,
        on_pass=pause_once_started,
    )
    assert paused == [0]
    harness.scheduler(scheduler__max_loop_interval=0.05).run(max_passes=3)
    assert _states(harness) == [
        "success",
        "success",
        "queued",
        "queued",
    ]  # runs already going finished; no new one
    assert backfills(harness)[0].completed_at is None

    assert cli("backfill", "resume", number).exit_code == 0
    harness.run_until(backfill_done(harness), timeout=30)
    assert _states(harness) == ["success"] * 4
    (row,) = json.loads(cli("backfill", "list", "--dag-id", "gated", "-o", "json").output)
    assert (row["state"], row["is_paused"], row["done"]) == ("completed", False, 4)
    assert json.loads(cli("backfill", "list", "--dag-id", "other", "-o", "json").output) == []
    result = cli("backfill", "pause", number)
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: backfill {number} is already completed\n",
    )


def test_cancel_fails_runs_not_started_and_lets_running_tasks_finish(harness, cli, gate) -> None:
    result = cli(
        "dags",
        "backfill",
        "gated",
        "-s",
        "2024-01-01",
        "-e",
        "2024-01-04",
        "--max-active-runs",
        "1",
        "--no-wait",
    )
    number = str(created_id(result.output))
    cancelled = []

    def cancel_while_running() -> None:
        if not cancelled and [ti.state for ti in harness.tis("gated")] == ["running"]:
            result = cli("backfill", "cancel", number)
            cancelled.append((result.exit_code, result.output))
            gate.touch()

    # A short loop interval: the scheduler has no reason to look at the run while its task waits.
    harness.run_until(
        lambda: bool(cancelled) and _states(harness)[0] == "success",
        timeout=30,
        on_pass=cancel_while_running,
        scheduler__max_loop_interval=0.05,
    )
    assert cancelled == [(0, f"Backfill {number} of gated is cancelled\n")]
    assert _states(harness) == ["success", "failed", "failed", "failed"]
    assert [len(harness.tis("gated", run.run_id)) for run in harness.runs("gated")] == [1, 0, 0, 0]
    (row,) = backfills(harness)
    assert (row.state, row.is_paused, row.completed_at is not None) == ("cancelled", False, True)
    for verb in ("cancel", "pause", "resume"):
        result = cli("backfill", verb, number)
        assert (result.exit_code, result.stderr) == (
            1,
            f"Error: backfill {number} is already cancelled\n",
        )
    result = cli("backfill", "cancel", str(int(number) + 100))
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: backfill {int(number) + 100} does not exist\n",
    )

    # The cancelled days are failed runs: a backfill reprocessing failed ones runs them.
    result = cli(
        "dags",
        "backfill",
        "gated",
        "-s",
        "2024-01-01",
        "-e",
        "2024-01-04",
        "--reprocess-behavior",
        "failed",
        "--no-wait",
    )
    assert "4 intervals, 0 new runs, 3 re-runs, 1 skipped" in result.output
    harness.run_until(backfill_done(harness), timeout=30)
    assert _states(harness) == ["success"] * 4


@pytest.mark.slow
def test_waiting_command_shows_progress_and_exits_by_the_outcome(
    harness, gate, tradewind_env, tmp_path
) -> None:
    """Without --no-wait the command waits for the scheduler, showing runs done; interrupted or
    hung up, it stops waiting but the backfill goes on."""
    gate.touch()
    env = {**os.environ, **tradewind_env}

    def terminal_defaults() -> None:
        """The signals as a terminal leaves them, whatever this suite inherited (a suite
        started under ``nohup`` or as a background job ignores SIGHUP or SIGINT)."""
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    def backfill(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [TRADEWIND, "dags", "backfill", "gated", *args],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=terminal_defaults,
        )

    hung_up = backfill("-s", "2024-01-01", "-e", "2024-01-02")
    interrupted = backfill("-s", "2024-01-03", "-e", "2024-01-04")
    try:
        for process in (hung_up, interrupted):
            assert process.stdout is not None
            assert process.stdout.readline().startswith("Backfill ")  # stored: now waiting
        hung_up.send_signal(signal.SIGHUP)  # the terminal closed
        interrupted.send_signal(signal.SIGINT)  # Ctrl-C
        hung_up.communicate(timeout=30)
        out, err = interrupted.communicate(timeout=30)
    finally:
        for process in (hung_up, interrupted):
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert hung_up.returncode == -signal.SIGHUP
    assert interrupted.returncode == 130, err
    assert "goes on in the scheduler" in err and "tradewind backfill cancel" in err
    harness.run_until(lambda: all(row.completed_at for row in backfills(harness)), timeout=30)
    assert _states(harness) == ["success"] * 4

    fixed = tmp_path / "fixed"
    harness.write(
        "failing.py",
        dags.HEADER.format(journal=str(tmp_path / "journal"), sleep=0)
        + f"""
with DAG("failing", schedule="@daily", start_date=datetime(2024, 1, 1),
         is_paused_upon_creation=True,
         params={{"fail_unless": ["2024-01-02", {str(fixed)!r}]}}) as dag:
    PythonOperator(task_id="t", python_callable=work)
""",
    )
    harness.parse()
    for expected in (1, 0):
        process = subprocess.Popen(
            [
                TRADEWIND,
                "dags",
                "backfill",
                "failing",
                "-s",
                "2024-01-01",
                "-e",
                "2024-01-03",
                "--reprocess-behavior",
                "failed",
            ],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # The scheduler looks often: its only event here
        # is the command's exit, which does not wake it.
        harness.run_until(
            lambda process=process: process.poll() is not None,
            timeout=30,
            scheduler__max_loop_interval=0.05,
        )
        out, err = process.communicate(timeout=10)
        assert process.returncode == expected, (out, err)
        lines = out.splitlines()
        number = created_id(out)
        if expected == 1:
            assert (
                lines[0]
                == f"Backfill {number} of failing: 3 intervals, 3 new runs, 0 re-runs, 0 skipped"
            )
            assert (
                lines[-2] == "[##############################] 3/3 runs done, 1 failed (completed)"
            )
            assert lines[-1] == f"Backfill {number} completed: 2 succeeded, 1 failed"
            fixed.touch()
        else:
            assert (
                lines[0]
                == f"Backfill {number} of failing: 3 intervals, 0 new runs, 1 re-runs, 2 skipped"
            )
            assert (
                lines[-2] == "[##############################] 1/1 runs done, 0 failed (completed)"
            )
            assert lines[-1] == f"Backfill {number} completed: 1 succeeded, 0 failed"
        assert all(line.startswith("[") for line in lines[1:-1]), lines
