"""The ``tradewind scheduler`` process: killed with SIGKILL mid-run and restarted it loses and
duplicates nothing (a try it was running finishes and is recorded; a DAG callback it was
running runs again); it is woken at once by finishing tasks and triggers and idles without
CPU; ``tasks logs --follow`` tails a running try."""

from __future__ import annotations

import signal
import time

import pytest
from sqlalchemy import select

from tradewind.db.models import DagRun, TaskInstanceHistory
from tradewind.services import dag_runs

pytestmark = pytest.mark.slow

CHAIN = """
    import os, time
    from datetime import timedelta
    from tradewind import DAG, PythonOperator

    def step(ti):
        with open({journal!r}, "a") as handle:
            handle.write(f"start {{ti.task_id}} {{ti.try_number}}\\n")
        deadline = time.monotonic() + 60
        while ti.task_id == "t2" and not os.path.exists({go!r}) and time.monotonic() < deadline:
            time.sleep(0.05)  # t2 waits for the test, which kills the scheduler meanwhile
        time.sleep(0.1)
        with open({journal!r}, "a") as handle:
            handle.write(f"end {{ti.task_id}}\\n")

    with DAG("chain", schedule=None,
             default_args={{"retries": 2, "retry_delay": timedelta(0)}}) as dag:
        previous = None
        for name in ("t1", "t2", "t3", "t4"):
            current = PythonOperator(task_id=name, python_callable=step)
            if previous is not None:
                previous >> current
            previous = current
"""


def test_scheduler_killed_mid_run_and_restarted_completes_the_run_once(
    deployment, tmp_path
) -> None:
    wait_for = deployment.wait_for
    journal = tmp_path / "journal.txt"
    go = tmp_path / "go"
    deployment.write("chain.py", CHAIN.format(journal=str(journal), go=str(go)))
    deployment.parse()
    first = deployment.start("scheduler")
    assert deployment.cli("dags", "trigger", "chain", "--run-id", "crash").returncode == 0

    def t2_running():
        states = deployment.states("chain", "crash")
        return states and states["tasks"]["t2"]["state"] == "running"

    wait_for(t2_running, 30, "t2 to run")
    wait_for(lambda: "start t2 1" in journal.read_text(), 10, "t2 to start its work")
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    go.touch()  # try 1 of t2 outlived its scheduler: it finishes now, while none runs
    deployment.wait_for(
        lambda: "end t2" in journal.read_text(), 30, "t2 to finish without a scheduler"
    )

    second = deployment.start("scheduler")
    final = wait_for(
        lambda: (
            (s := deployment.states("chain", "crash")) and s["state"] in ("success", "failed") and s
        ),
        60,
        "the run to finish after the restart",
    )
    second.send_signal(signal.SIGTERM)
    _out, err = second.communicate(timeout=30)
    assert second.returncode == 0, err

    assert final["state"] == "success"
    lines = journal.read_text().splitlines()
    for task in ("t1", "t2", "t3", "t4"):
        assert lines.count(f"end {task}") == 1, lines  # no task did its work twice
    assert {key: value["state"] for key, value in final["tasks"].items()} == dict.fromkeys(
        ("t1", "t2", "t3", "t4"), "success"
    )
    rows = deployment.read(
        lambda s: [
            (row.task_id, row.try_number, row.state)
            for row in s.scalars(
                select(TaskInstanceHistory).order_by(
                    TaskInstanceHistory.task_id, TaskInstanceHistory.try_number
                )
            )
        ]
    )
    successes = [task_id for task_id, _try, state in rows if state == "success"]
    assert sorted(successes) == ["t1", "t2", "t3", "t4"]
    assert ("t2", 1, "success") in rows, (rows, lines)  # the crash did not cost t2 its try
    assert lines.count("start t2 1") == 1 and "start t2 2" not in lines


CALLBACK = """
    import os, time
    from tradewind import DAG, PythonOperator

    def callback(context):
        with open({journal!r}, "a") as handle:
            handle.write(f"callback start {{os.getpid()}}\\n")
        deadline = time.monotonic() + 60
        while not os.path.exists({go!r}) and time.monotonic() < deadline:
            time.sleep(0.05)  # the test kills the scheduler meanwhile
        with open({journal!r}, "a") as handle:
            handle.write("callback end\\n")

    with DAG("owing", schedule=None, on_success_callback=callback) as dag:
        PythonOperator(task_id="only", python_callable=lambda: 1)
"""


def test_a_dag_callback_cut_short_by_a_scheduler_kill_runs_after_the_restart(
    deployment, tmp_path
) -> None:
    wait_for = deployment.wait_for
    journal = tmp_path / "journal.txt"
    go = tmp_path / "go"
    deployment.write("owing.py", CALLBACK.format(journal=str(journal), go=str(go)))
    deployment.parse()
    first = deployment.start("scheduler")
    assert deployment.cli("dags", "trigger", "owing", "--run-id", "owed").returncode == 0
    wait_for(
        lambda: journal.exists() and "callback start" in journal.read_text(),
        30,
        "the callback to start",
    )
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    time.sleep(0.3)  # the callback got its parent-death signal
    assert "callback end" not in journal.read_text()

    go.touch()
    second = deployment.start("scheduler")
    wait_for(
        lambda: "callback end" in journal.read_text(),
        60,
        "the owed callback to run after the restart",
    )
    wait_for(
        lambda: (
            deployment.read(
                lambda s: s.execute(
                    select(DagRun.callback_reason).where(
                        DagRun.dag_id == "owing", DagRun.run_id == "owed"
                    )
                ).scalar_one()
            )
            is None
        ),
        10,
        "the callback to be settled",
    )
    second.send_signal(signal.SIGTERM)
    _out, err = second.communicate(timeout=30)
    assert second.returncode == 0, err
    lines = journal.read_text().splitlines()
    assert [line.split()[1] for line in lines] == ["start", "start", "end"], (
        lines
    )  # cut short once, then run whole


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_wakeups_idle_cpu_and_follow(deployment) -> None:
    wait_for, cpu_seconds = deployment.wait_for, deployment.cpu_seconds
    deployment.write(
        "talk.py",
        """
        import time
        from tradewind import DAG, PythonOperator

        def talk():
            for n in range(5):
                print(f"line {n}", flush=True)
                time.sleep(0.2)

        with DAG("talk", schedule=None) as dag:
            talk_task = PythonOperator(task_id="talk", python_callable=talk)
            talk_task >> PythonOperator(task_id="after", python_callable=lambda: 1)
    """,
    )
    deployment.parse()
    scheduler = deployment.start("scheduler")
    time.sleep(0.5)  # let it start and settle before the trigger
    before = time.monotonic()
    assert deployment.cli("dags", "trigger", "talk", "--run-id", "r").returncode == 0
    follow = deployment.start("tasks", "logs", "talk", "r", "talk", "--follow")
    out, err = follow.communicate(timeout=60)
    assert follow.returncode == 0, err
    assert [line for line in out.splitlines() if line.startswith("line ")] == [
        f"line {n}" for n in range(5)
    ]
    assert "Marking task as SUCCESS" in out
    final = wait_for(
        lambda: (s := deployment.states("talk", "r")) and s["state"] == "success" and s,
        30,
        "the run",
    )
    assert time.monotonic() - before < 15
    tis = deployment.read(
        lambda s: {
            ti.task_id: (ti.start_date, ti.end_date)
            for ti in dag_runs.task_instances(s, "talk", "r")
        }
    )
    # A finishing task wakes the scheduler at once: the
    # next one starts within a fraction of a second.
    assert (tis["after"][0] - tis["talk"][1]).total_seconds() < 1.0
    assert final["tasks"]["after"]["state"] == "success"

    idle_from = cpu_seconds(scheduler.pid)
    time.sleep(2)
    assert cpu_seconds(scheduler.pid) - idle_from < 0.2  # idle: it sleeps instead of polling
    scheduler.send_signal(signal.SIGINT)
    scheduler.communicate(timeout=30)
    assert scheduler.returncode == 0


def test_two_schedulers_share_the_work_without_running_anything_twice(deployment, tmp_path) -> None:
    journal = tmp_path / "journal.txt"
    deployment.write(
        "wide.py",
        f"""
        import os, time
        from tradewind import DAG, PythonOperator

        def work(ti, run_id):
            time.sleep(0.05)
            with open({str(journal)!r}, "a") as handle:
                handle.write(f"{{run_id}} {{ti.task_id}} {{os.getppid()}}\\n")

        with DAG("wide", schedule=None) as dag:
            for n in range(8):
                PythonOperator(task_id=f"w{{n}}", python_callable=work)
    """,
    )
    deployment.parse()
    schedulers = [deployment.start("scheduler"), deployment.start("scheduler")]
    for n in range(3):
        assert deployment.cli("dags", "trigger", "wide", "--run-id", f"r{n}").returncode == 0
    for n in range(3):
        deployment.wait_for(
            lambda n=n: (s := deployment.states("wide", f"r{n}")) and s["state"] == "success",
            60,
            f"run r{n}",
        )
    for scheduler in schedulers:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.communicate(timeout=30)
        assert scheduler.returncode == 0
    lines = [line.split() for line in journal.read_text().splitlines()]
    assert sorted((run_id, task_id) for run_id, task_id, _parent in lines) == sorted(
        (f"r{n}", f"w{m}") for n in range(3) for m in range(8)
    )  # every task once, none twice
