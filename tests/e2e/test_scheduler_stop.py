"""Stopping ``tradewind scheduler`` costs no healthy try: asked to stop, it starts no new tries
and lets the running ones finish within ``core.shutdown_grace``, recording their outcomes as
usual; tries still running when the grace is over are terminated and recorded failed."""

from __future__ import annotations

import signal
import time

import pytest
from sqlalchemy import select

from tradewind.db.models import TaskInstanceHistory, XCom

pytestmark = pytest.mark.slow

STEADY = """
    import os, time
    from tradewind import DAG, PythonOperator

    def work(ti, run_id):
        with open({journal!r}, "a") as handle:
            handle.write(f"start {{run_id}} {{ti.task_id}} {{ti.try_number}}\\n")
        time.sleep(3)
        return f"{{run_id}} {{ti.task_id}}"

    def after(ti, run_id):
        with open({journal!r}, "a") as handle:
            handle.write(f"start {{run_id}} after {{ti.try_number}}\\n")

    with DAG("steady", schedule=None) as dag:
        done = PythonOperator(task_id="after", python_callable=after)
        for n in range(4):
            PythonOperator(task_id=f"w{{n}}", python_callable=work) >> done
"""


def _history(deployment, dag_id: str) -> list[tuple[str, str, int, str]]:
    return deployment.read(
        lambda s: [
            (row.run_id, row.task_id, row.try_number, row.state)
            for row in s.scalars(
                select(TaskInstanceHistory)
                .where(TaskInstanceHistory.dag_id == dag_id)
                .order_by(
                    TaskInstanceHistory.run_id,
                    TaskInstanceHistory.task_id,
                    TaskInstanceHistory.try_number,
                )
            )
        ]
    )


def test_a_stop_lets_running_tries_finish_and_starts_no_new_ones(deployment, tmp_path) -> None:
    journal = tmp_path / "journal.txt"
    deployment.write("steady.py", STEADY.format(journal=str(journal)))
    deployment.parse()
    deployment.env["TRADEWIND__CORE__SHUTDOWN_GRACE"] = "60"
    for run_id in ("r1", "r2"):  # both before the scheduler starts: their tries run at once
        assert deployment.cli("dags", "trigger", "steady", "--run-id", run_id).returncode == 0
    scheduler = deployment.start("scheduler")
    deployment.wait_for(
        lambda: journal.exists() and len(journal.read_text().splitlines()) == 8,
        60,
        "eight tries to start their work",
        interval=0.02,
    )
    stopped_at = time.monotonic()
    scheduler.send_signal(signal.SIGTERM)
    _out, err = scheduler.communicate(timeout=60)
    assert scheduler.returncode == 0, err
    assert "waiting up to 60 s for 8 running task(s)" in err
    assert time.monotonic() - stopped_at < 30

    for run_id in ("r1", "r2"):
        states = deployment.states("steady", run_id)
        assert {f"w{n}": states["tasks"][f"w{n}"]["state"] for n in range(4)} == dict.fromkeys(
            (f"w{n}" for n in range(4)), "success"
        ), states
        assert states["tasks"]["after"]["state"] != "running"  # no new try started while stopping
    assert [line for line in journal.read_text().splitlines() if " after " in line] == []
    assert _history(deployment, "steady") == [
        (run_id, f"w{n}", 1, "success") for run_id in ("r1", "r2") for n in range(4)
    ]  # every try used once, none lost
    values = deployment.read(
        lambda s: sorted(s.scalars(select(XCom.task_id).where(XCom.dag_id == "steady")))
    )
    assert values == sorted(f"w{n}" for n in range(4) for _run in range(2))

    again = deployment.start("scheduler")  # the next scheduler goes on where it stopped
    for run_id in ("r1", "r2"):
        deployment.wait_for(
            lambda run_id=run_id: (
                (s := deployment.states("steady", run_id)) and s["state"] == "success"
            ),
            60,
            f"run {run_id} to finish",
        )
    again.send_signal(signal.SIGTERM)
    _out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    starts = [line for line in journal.read_text().splitlines()]
    assert len(starts) == len(set(starts)) == 10  # eight tries and two "after"s, each once


MIXED = """
    import time
    from tradewind import DAG, PythonOperator

    def work(ti, seconds):
        with open({journal!r}, "a") as handle:
            handle.write(f"start {{ti.task_id}}\\n")
        time.sleep(seconds)

    with DAG("mixed", schedule=None) as dag:
        PythonOperator(task_id="quick", python_callable=work, op_kwargs={{"seconds": 2}})
        PythonOperator(task_id="long", python_callable=work, op_kwargs={{"seconds": 120}})
"""


def test_tries_still_running_when_the_grace_is_over_are_terminated_and_recorded(
    deployment, tmp_path
) -> None:
    journal = tmp_path / "journal.txt"
    deployment.write("mixed.py", MIXED.format(journal=str(journal)))
    deployment.parse()
    deployment.env["TRADEWIND__CORE__SHUTDOWN_GRACE"] = "5"
    scheduler = deployment.start("scheduler")
    assert deployment.cli("dags", "trigger", "mixed", "--run-id", "m").returncode == 0
    deployment.wait_for(
        lambda: journal.exists() and len(journal.read_text().splitlines()) == 2,
        60,
        "both tries to start their work",
        interval=0.02,
    )
    stopped_at = time.monotonic()
    scheduler.send_signal(signal.SIGTERM)
    _out, err = scheduler.communicate(timeout=60)
    elapsed = time.monotonic() - stopped_at
    assert scheduler.returncode == 0, err
    assert "the shutdown grace of 5 s is over" in err
    assert 4.5 <= elapsed < 30
    states = deployment.states("mixed", "m")
    assert (
        states["tasks"]["quick"]["state"] == "success"
    )  # finished within the grace: recorded as usual
    assert states["tasks"]["long"]["state"] == "failed"  # then terminated, and recorded so
    assert "SIGTERM" in deployment.cli("tasks", "logs", "mixed", "m", "long").stdout
