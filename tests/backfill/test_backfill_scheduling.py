"""How the scheduler runs a backfill: its max_active_runs, run_backwards order, pools and
priorities, depends_on_past and wait_for_downstream, and one run per interval whoever made it.

The backfill is created through the CLI in this process (``--no-wait``); the scheduler runs in
this process until the backfill is complete. Tasks write to a journal file when they start and
end, which gives the real order of execution.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tradewind.db import engine as db_engine
from tradewind.services import dags as dag_service
from tradewind.services import pools

from . import dags
from .helpers import UTC, backfill_done, backfills, day, max_overlap


def _backfill(
    harness: Any, cli: Any, dag_id: str, *args: str, timeout: float = 30, **overrides: Any
) -> Any:
    result = cli("dags", "backfill", dag_id, *args, "--no-wait")
    assert result.exit_code == 0, result.output
    harness.run_until(backfill_done(harness), timeout=timeout, **overrides)
    return result


def test_backfill_keeps_to_its_max_active_runs_or_the_dags(harness, cli, tmp_path) -> None:
    journal = tmp_path / "journal"
    dags.write(
        harness,
        "limited.py",
        """
        with DAG("limited", schedule="@daily", start_date=datetime(2024, 1, 1),
                 is_paused_upon_creation=True, max_active_runs=3) as dag:
            PythonOperator(task_id="t", python_callable=work)
    """,
        journal,
        sleep=0.15,
    )
    harness.parse()
    _backfill(harness, cli, "limited", "-s", "2024-01-01", "-e", "2024-01-06")
    _backfill(
        harness, cli, "limited", "-s", "2024-01-07", "-e", "2024-01-12", "--max-active-runs", "2"
    )
    first, second = backfills(harness, "limited")
    assert (first.max_active_runs, second.max_active_runs) == (3, 2)
    runs = harness.runs("limited")
    assert len(runs) == 12 and {run.state for run in runs} == {"success"}
    assert (
        max_overlap((run.start_date, run.end_date) for run in runs if run.backfill_id == first.id)
        == 3
    )
    assert (
        max_overlap((run.start_date, run.end_date) for run in runs if run.backfill_id == second.id)
        == 2
    )


def test_runs_start_oldest_first_or_newest_first_with_run_backwards(harness, cli, tmp_path) -> None:
    journal = tmp_path / "journal"
    dags.write(
        harness,
        "ordered.py",
        """
        with DAG("ordered", schedule="@daily", start_date=datetime(2024, 1, 1),
                 is_paused_upon_creation=True) as dag:
            PythonOperator(task_id="t", python_callable=work)
    """,
        journal,
    )
    harness.parse()
    _backfill(
        harness, cli, "ordered", "-s", "2024-01-01", "-e", "2024-01-04", "--max-active-runs", "1"
    )
    _backfill(
        harness,
        cli,
        "ordered",
        "-s",
        "2024-01-05",
        "-e",
        "2024-01-08",
        "--max-active-runs",
        "1",
        "--run-backwards",
    )
    assert dags.order(journal) == [f"2024-01-0{n}" for n in (1, 2, 3, 4, 8, 7, 6, 5)]
    assert backfills(harness)[-1].run_backwards is True
    # Re-running days the first backfill made, backwards: the order is the new backfill's.
    _backfill(
        harness,
        cli,
        "ordered",
        "-s",
        "2024-01-01",
        "-e",
        "2024-01-04",
        "--max-active-runs",
        "1",
        "--run-backwards",
        "--reprocess-behavior",
        "completed",
    )
    assert dags.order(journal)[8:] == [f"2024-01-0{n}" for n in (4, 3, 2, 1)]
    assert {run.state for run in harness.runs("ordered")} == {"success"}


def test_backfill_tasks_keep_to_pools_and_priorities(harness, cli, tmp_path, engine) -> None:
    journal = tmp_path / "journal"
    db_engine.run_in_transaction(
        engine, lambda s: pools.create_pool(s, "single", 1, "one at a time")
    )
    dags.write(
        harness,
        "pooled.py",
        """
        with DAG("pooled", schedule="@daily", start_date=datetime(2024, 1, 1),
                 is_paused_upon_creation=True) as dag:
            PythonOperator(task_id="minor", python_callable=work, pool="single", priority_weight=1,
                           weight_rule="absolute")
            PythonOperator(task_id="major", python_callable=work, pool="single", priority_weight=10,
                           weight_rule="absolute")
    """,
        journal,
        sleep=0.02,
    )
    harness.parse()
    _backfill(
        harness, cli, "pooled", "-s", "2024-01-01", "-e", "2024-01-03", "--max-active-runs", "3"
    )
    lines = dags.journal_lines(journal)
    assert [line.split()[0] for line in lines] == [
        "start",
        "end",
    ] * 6  # never two at once in the pool
    started = [line.split()[2] for line in lines if line.startswith("start")]
    assert started == ["major"] * 3 + ["minor"] * 3  # every major before any minor


def test_depends_on_past_and_wait_for_downstream_hold_across_a_backfill(
    harness, cli, tmp_path
) -> None:
    journal = tmp_path / "journal"
    dags.write(
        harness,
        "serial.py",
        """
        with DAG("serial", schedule="@daily", start_date=datetime(2024, 1, 1),
                 is_paused_upon_creation=True, max_active_runs=4) as dag:
            first = PythonOperator(task_id="first", python_callable=work, wait_for_downstream=True)
            second = PythonOperator(task_id="second", python_callable=work)
            first >> second
    """,
        journal,
        sleep=0.02,
    )
    harness.parse()
    _backfill(harness, cli, "serial", "-s", "2024-01-01", "-e", "2024-01-04")
    lines = [line.rsplit(" ", 1)[0] for line in dags.journal_lines(journal)]
    expected = []
    for n in range(1, 5):
        for task in ("first", "second"):
            expected += [f"start 2024-01-0{n} {task}", f"end 2024-01-0{n} {task}"]
    assert lines == expected  # run n+1 began only after run n had finished downstream of ``first``
    assert (
        max_overlap((run.start_date, run.end_date) for run in harness.runs("serial")) == 4
    )  # yet the runs overlapped


def test_depends_on_past_holds_later_days_until_the_failed_one_is_cleared(
    harness, cli, tmp_path
) -> None:
    journal = tmp_path / "journal"
    fixed = tmp_path / "fixed"
    dags.write(
        harness,
        "past.py",
        f"""
        with DAG("past", schedule="@daily", start_date=datetime(2024, 1, 1),
                 is_paused_upon_creation=True, max_active_runs=4,
                 params={{"fail_unless": ["2024-01-02", {str(fixed)!r}]}}) as dag:
            PythonOperator(task_id="t", python_callable=work, depends_on_past=True)
    """,
        journal,
    )
    harness.parse()
    result = cli("dags", "backfill", "past", "-s", "2024-01-01", "-e", "2024-01-04", "--no-wait")
    assert result.exit_code == 0, result.output

    def states() -> list[str]:
        return [run.state for run in harness.runs("past")]

    harness.run_until(lambda: states() == ["success", "failed", "running", "running"], timeout=30)
    harness.scheduler(scheduler__max_loop_interval=0.05).run(max_passes=3)
    assert states() == ["success", "failed", "running", "running"]
    assert dags.order(journal) == ["2024-01-01", "2024-01-02"]  # days 3 and 4 wait for day 2
    assert backfills(harness)[-1].completed_at is None

    fixed.touch()
    cleared = cli(
        "tasks", "clear", "past", "-s", "2024-01-02", "-e", "2024-01-02", "--only-failed", "--yes"
    )
    assert cleared.exit_code == 0, cleared.output
    harness.run_until(backfill_done(harness), timeout=30)
    assert states() == ["success"] * 4
    assert dags.order(journal) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
    ]
    assert backfills(harness)[-1].state == "completed"


def test_an_interval_never_gets_a_second_run(harness, cli, tmp_path) -> None:
    journal = tmp_path / "journal"
    dags.write(
        harness,
        "shared.py",
        """
        with DAG("shared", schedule="@daily", start_date=datetime(2024, 1, 1), catchup=True) as dag:
            PythonOperator(task_id="t", python_callable=work)
    """,
        journal,
    )
    harness.parse()
    harness.scheduler(clock=lambda: datetime(2024, 1, 4, 1, tzinfo=UTC)).run(
        until=lambda: [run.state for run in harness.runs("shared")] == ["success"] * 3
    )
    first = cli("dags", "backfill", "shared", "-s", "2024-01-01", "-e", "2024-01-06", "--no-wait")
    assert "6 intervals, 3 new runs, 0 re-runs, 3 skipped" in first.output, first.output
    second = cli(
        "dags",
        "backfill",
        "shared",
        "-s",
        "2024-01-01",
        "-e",
        "2024-01-06",
        "--no-wait",
        "--reprocess-behavior",
        "completed",
    )
    assert second.exit_code == 0, second.output
    assert (
        "6 intervals, 0 new runs, 3 re-runs, 3 skipped" in second.output
    )  # days 4-6 are in flight
    # The scheduler then reaches the days the backfill made: it skips them and goes on.
    harness.run_until(
        lambda: all(row.completed_at for row in backfills(harness)),
        timeout=30,
        clock=lambda: datetime(2024, 1, 8, 1, tzinfo=UTC),
    )
    harness.run_until(
        lambda: len(harness.runs("shared")) == 7 and harness.runs("shared")[-1].state == "success",
        timeout=30,
        clock=lambda: datetime(2024, 1, 8, 1, tzinfo=UTC),
    )
    runs = harness.runs("shared")
    assert [(run.logical_date.day, run.run_type) for run in runs] == [
        (1, "backfill"),
        (2, "backfill"),
        (3, "backfill"),
        (4, "backfill"),
        (5, "backfill"),
        (6, "backfill"),
        (7, "scheduled"),
    ]
    assert {run.state for run in runs} == {"success"}
    assert sorted(dags.order(journal)) == sorted(
        [f"2024-01-0{n}" for n in (1, 2, 3)] * 2 + [f"2024-01-0{n}" for n in (4, 5, 6, 7)]
    )


def _running_max(harness: Any, dag_id: str, seen: list[int]) -> None:
    seen.append(sum(1 for run in harness.runs(dag_id) if run.state == "running"))


def test_catch_up_on_first_activation_and_on_unpause(harness, tmp_path) -> None:
    journal = tmp_path / "journal"
    dags.write(
        harness,
        "catching.py",
        """
        for dag_id, catchup, paused in (
            ("fresh", True, False), ("resumed", True, True), ("latest", False, True)
        ):
            with DAG(dag_id, schedule="@daily", start_date=datetime(2024, 1, 1), catchup=catchup,
                     max_active_runs=3, is_paused_upon_creation=paused) as dag:
                PythonOperator(task_id="t", python_callable=work)
            globals()[dag_id] = dag
        with DAG("chained", schedule="@daily", start_date=datetime(2024, 1, 1), catchup=True,
                 max_active_runs=3) as chained:
            PythonOperator(task_id="in_order", python_callable=work, depends_on_past=True)
    """,
        journal,
    )
    harness.parse()
    now = datetime(2024, 1, 11, 6, tzinfo=UTC)
    for dag_id in ("resumed", "latest"):
        db_engine.run_in_transaction(
            harness.engine, lambda s, d=dag_id: dag_service.set_paused(s, d, False, now=now)
        )
    seen: dict[str, list[int]] = {"fresh": [], "resumed": [], "latest": []}

    def sample() -> None:
        for dag_id, counts in seen.items():
            _running_max(harness, dag_id, counts)

    def caught_up() -> bool:
        return all(len(harness.runs(d)) == 10 for d in ("fresh", "resumed", "chained")) and all(
            run.state == "success" for d in (*seen, "chained") for run in harness.runs(d)
        )

    harness.run_until(caught_up, timeout=30, clock=lambda: now, on_pass=sample)
    for dag_id in ("fresh", "resumed"):
        runs = harness.runs(dag_id)
        assert [run.logical_date for run in runs] == [day(n) for n in range(1, 11)]
        assert [run.id for run in runs] == sorted(run.id for run in runs)  # created oldest first
        assert max(seen[dag_id]) == 3  # within max_active_runs
        assert {run.run_type for run in runs} == {"scheduled"}
    # depends_on_past holds in catch-up order: each day's task ran after the day before had ended.
    chained = [line.split()[:2] for line in dags.journal_lines(journal) if " in_order " in line]
    assert chained == [
        [event, f"2024-01-{n:02d}"] for n in range(1, 11) for event in ("start", "end")
    ]
    (latest,) = harness.runs("latest")
    assert latest.logical_date == day(10)
    assert max(seen["latest"]) <= 1
