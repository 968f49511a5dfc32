"""A backfill survives its scheduler: ``tradewind scheduler`` killed with SIGKILL in the middle
of a backfill and started again finishes it, with exactly one run per interval."""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest
from sqlalchemy import func, select

from tradewind.db.models import Backfill, DagRun

from . import dags

pytestmark = pytest.mark.slow

DAYS = 10


def _progress(deployment: Any) -> dict[str, Any]:
    def read(session: Any) -> dict[str, Any]:
        row = session.scalar(select(Backfill))
        states = dict(
            session.execute(select(DagRun.state, func.count()).group_by(DagRun.state)).all()
        )
        return {"completed": row is not None and row.completed_at is not None, "states": states}

    return deployment.read(read)


def test_scheduler_killed_in_the_middle_of_a_backfill_and_restarted_finishes_it_once(
    deployment, tmp_path
) -> None:
    journal = tmp_path / "journal"
    deployment.write(
        "slow.py",
        dags.HEADER.format(journal=str(journal), sleep=0.3)
        + """
with DAG("slow", schedule="@daily", start_date=datetime(2024, 1, 1), is_paused_upon_creation=True,
         default_args={"retries": 2, "retry_delay": timedelta(0)}) as dag:
    PythonOperator(task_id="t", python_callable=work)
""",
    )
    deployment.parse()
    first = deployment.start("scheduler")
    result = deployment.cli(
        "dags",
        "backfill",
        "slow",
        "-s",
        "2024-01-01",
        "-e",
        f"2024-01-{DAYS:02d}",
        "--max-active-runs",
        "3",
        "--no-wait",
    )
    assert result.returncode == 0, result.stderr
    assert f"{DAYS} intervals, {DAYS} new runs" in result.stdout

    deployment.wait_for(
        lambda: _progress(deployment)["states"].get("success", 0) >= 3, 60, "three runs to succeed"
    )
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    middle = _progress(deployment)
    assert not middle["completed"] and middle["states"].get("success", 0) < DAYS, middle

    second = deployment.start("scheduler")
    deployment.wait_for(
        lambda: _progress(deployment)["completed"], 60, "the backfill to complete after the restart"
    )
    second.send_signal(signal.SIGTERM)
    _out, err = second.communicate(timeout=30)
    assert second.returncode == 0, err

    runs = deployment.read(
        lambda s: [
            (run.logical_date.day, run.run_type, run.state)
            for run in s.scalars(select(DagRun).order_by(DagRun.logical_date))
        ]
    )
    assert runs == [(n, "backfill", "success") for n in range(1, DAYS + 1)]
    (row,) = json.loads(deployment.cli("backfill", "list", "-o", "json").stdout)
    assert (row["state"], row["runs"], row["done"], row["failed"]) == ("completed", DAYS, DAYS, 0)
    ends = dags.order(journal, "end")
    assert sorted(set(ends)) == [f"2024-01-{n:02d}" for n in range(1, DAYS + 1)]
