"""The proof of the issue, on ``examples/incremental_load.py``: a backfill makes one run per
interval and one copy of each day's rows; repeating it changes nothing; a failed day re-run
with ``--reprocess-behavior failed`` is fixed alone.

The CLI runs in this process and returns at once (``--no-wait``); the scheduler then runs here
until the backfill is complete.
"""

from __future__ import annotations

import importlib.util
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from .helpers import backfill_done, backfills, day

EXAMPLE = Path(__file__).parents[2] / "examples" / "incremental_load.py"


@pytest.fixture
def data(harness: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example in the DAG folder, its source table seeded, its data dir under tmp_path."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("TRADEWIND_EXAMPLE_DATA", str(folder))  # task processes fork from here
    shutil.copy(EXAMPLE, harness.folder)
    spec = importlib.util.spec_from_file_location("incremental_load_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.seed_source(str(folder / "tradewind_example_source.db"))
    harness.parse()
    return folder


def _query(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql, args).fetchall()


def _target(data: Path) -> list[tuple[Any, ...]]:
    return _query(
        data / "tradewind_example_target.db",
        "SELECT id, created_at, amount FROM orders_copy ORDER BY id",
    )


def _source(data: Path, start: str, end: str) -> list[tuple[Any, ...]]:
    return _query(
        data / "tradewind_example_source.db",
        "SELECT id, created_at, amount FROM orders WHERE created_at >= ? AND created_at < ? ORDER "
        "BY id",
        start,
        end,
    )


def _backfill(harness: Any, cli: Any, *args: str) -> Any:
    result = cli("dags", "backfill", "incremental_load", *args, "--no-wait")
    assert result.exit_code == 0, result.output
    harness.run_until(backfill_done(harness), timeout=60)
    return result


def _tries(harness: Any) -> dict[str, dict[str, int]]:
    return {
        run.logical_date.date().isoformat(): {
            ti.task_id: ti.try_number for ti in harness.tis("incremental_load", run.run_id)
        }
        for run in harness.runs("incremental_load")
    }


def test_backfill_of_31_days_copies_each_day_once_and_repeating_it_changes_nothing(
    harness, cli, data
) -> None:
    result = _backfill(harness, cli, "--start-date", "2024-01-01", "--end-date", "2024-01-31")
    assert "31 intervals, 31 new runs, 0 re-runs, 0 skipped" in result.output
    runs = harness.runs("incremental_load")
    assert [run.logical_date for run in runs] == [day(n) for n in range(1, 32)]
    assert {(run.run_type, run.state) for run in runs} == {("backfill", "success")}
    assert [(run.data_interval_start, run.data_interval_end) for run in runs][14] == (
        day(15),
        day(16),
    )
    target = _target(data)
    assert target == _source(data, "2024-01-01", "2024-02-01")
    assert len(target) == 31 * 24
    assert len({row[0] for row in target}) == len(target)  # one copy of each row
    (first,) = backfills(harness)
    assert (first.state, first.reprocess_behavior, first.max_active_runs, first.created_by) == (
        "completed",
        "none",
        4,
        "cli",
    )

    result = _backfill(
        harness, cli, "-s", "2024-01-01", "-e", "2024-01-31", "--reprocess-behavior", "completed"
    )
    assert "31 intervals, 0 new runs, 31 re-runs, 0 skipped" in result.output
    runs = harness.runs("incremental_load")
    assert len(runs) == 31 and {run.state for run in runs} == {"success"}
    assert {run.backfill_id for run in runs} == {backfills(harness)[-1].id}
    assert all(
        tries == {"copy_interval": 2, "check_count": 2} for tries in _tries(harness).values()
    )
    assert _target(data) == target

    # Without reprocessing, a third backfill of the same range finds nothing to do.
    result = _backfill(harness, cli, "-s", "2024-01-01", "-e", "2024-01-31")
    assert "31 intervals, 0 new runs, 0 re-runs, 31 skipped" in result.output
    assert len(harness.runs("incremental_load")) == 31
    assert _target(data) == target


def test_a_failed_day_is_rerun_alone_with_reprocess_failed(harness, cli, data) -> None:
    source = data / "tradewind_example_source.db"
    missing = _source(data, "2024-01-15", "2024-01-16")
    _query(
        source, "DELETE FROM orders WHERE created_at >= '2024-01-15' AND created_at < '2024-01-16'"
    )
    _backfill(harness, cli, "-s", "2024-01-13", "-e", "2024-01-17")
    states = {run.logical_date.day: run.state for run in harness.runs("incremental_load")}
    assert states == {13: "success", 14: "success", 15: "failed", 16: "success", 17: "success"}
    first = backfills(harness)[-1]
    assert first.state == "completed"

    with sqlite3.connect(source) as connection:
        connection.executemany(
            "INSERT INTO orders (id, created_at, amount) VALUES (?, ?, ?)", missing
        )
    dry = cli(
        "dags",
        "backfill",
        "incremental_load",
        "-s",
        "2024-01-13",
        "-e",
        "2024-01-17",
        "--reprocess-behavior",
        "failed",
        "--dry-run",
    )
    assert dry.exit_code == 0, dry.output
    actions = [line.split()[3] for line in dry.output.splitlines()[:-1]]
    assert actions == ["skip", "skip", "rerun", "skip", "skip"]
    _backfill(
        harness, cli, "-s", "2024-01-13", "-e", "2024-01-17", "--reprocess-behavior", "failed"
    )
    assert {run.state for run in harness.runs("incremental_load")} == {"success"}
    tries = _tries(harness)
    assert tries.pop("2024-01-15") == {"copy_interval": 2, "check_count": 2}
    assert all(t == {"copy_interval": 1, "check_count": 1} for t in tries.values())
    assert _target(data) == _source(data, "2024-01-13", "2024-01-18")
