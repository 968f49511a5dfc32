"""A crash costs no healthy try: tries outlive a ``tradewind scheduler`` killed with SIGKILL (and
its fork server and warm launchers), the restarted scheduler adopts those still running and
records those that finished meanwhile; only a try that really died counts as failed."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.executors.process_helpers import alive
from tradewind.db.models import TaskInstanceHistory, XCom
from tradewind.runner import xcom_codec

pytestmark = pytest.mark.slow

OUTLIVE = """
    import os, time
    from datetime import timedelta
    from tradewind import DAG, PythonOperator

    def note(line):
        with open({journal!r}, "a") as handle:
            handle.write(line + "\\n")

    def wait_for(name):
        deadline = time.monotonic() + 90
        while not os.path.exists(os.path.join({folder!r}, name)) and time.monotonic() < deadline:
            time.sleep(0.05)

    def adopted(ti):
        note(f"start adopted {{ti.try_number}} {{os.getpid()}}")
        wait_for("go_adopted")
        value = ti.xcom_pull(task_ids="finished_meanwhile")  # answered by the restarted scheduler
        print("pulled", value, flush=True)
        note(f"end adopted {{ti.try_number}}")
        return {{"pulled": value}}

    def finished_meanwhile(ti):
        note(f"start finished_meanwhile {{ti.try_number}} {{os.getpid()}}")
        wait_for("go_finish")
        note(f"end finished_meanwhile {{ti.try_number}}")
        return "finished while no scheduler ran"

    def killed_meanwhile(ti):
        note(f"start killed_meanwhile {{ti.try_number}} {{os.getpid()}}")
        if ti.try_number == 1:
            time.sleep(90)
        note(f"end killed_meanwhile {{ti.try_number}}")
        return ti.try_number

    with DAG("outlive", schedule=None,
             default_args={{"retries": 1, "retry_delay": timedelta(0)}}) as dag:
        for work in (adopted, finished_meanwhile, killed_meanwhile):
            PythonOperator(task_id=work.__name__, python_callable=work)
"""


def _journal(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def _started_pids(path: Path) -> dict[str, int]:
    return {words[1]: int(words[3]) for words in _journal(path) if words[0] == "start"}


def _kill_leftovers(journal: Path) -> None:
    """Tries the test started that a failed assertion left running."""
    for pid in _started_pids(journal).values():
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


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


def _xcoms(deployment, dag_id: str) -> dict[tuple[str, str], object]:
    return deployment.read(
        lambda s: {
            (row.run_id, row.task_id): xcom_codec.decode(row.value)
            for row in s.scalars(
                select(XCom).where(XCom.dag_id == dag_id, XCom.key == "return_value")
            )
        }
    )


def test_tries_outlive_a_killed_scheduler_and_the_next_one_adopts_them(
    deployment, tmp_path
) -> None:
    wait_for = deployment.wait_for
    journal = tmp_path / "journal.txt"
    deployment.write("outlive.py", OUTLIVE.format(journal=str(journal), folder=str(tmp_path)))
    deployment.parse()
    try:
        first = deployment.start("scheduler")
        assert deployment.cli("dags", "trigger", "outlive", "--run-id", "r").returncode == 0
        wait_for(
            lambda: len(_started_pids(journal)) == 3, 60, "the three tries to start their work"
        )
        pids = _started_pids(journal)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)

        # While no scheduler runs: one try finishes, one is killed, one waits.
        (tmp_path / "go_finish").touch()
        wait_for(
            lambda: ["end", "finished_meanwhile", "1"] in _journal(journal),
            30,
            "a try to finish meanwhile",
        )
        wait_for(lambda: not alive(pids["finished_meanwhile"]), 30, "that try's process to end")
        os.kill(pids["killed_meanwhile"], signal.SIGKILL)
        assert alive(pids["adopted"])

        second = deployment.start("scheduler")
        wait_for(
            lambda: (
                (s := deployment.states("outlive", "r"))
                and s["tasks"]["finished_meanwhile"]["state"] == "success"
            ),
            60,
            "the outcome left meanwhile to be recorded",
        )
        (
            tmp_path / "go_adopted"
        ).touch()  # the adopted try now asks the new scheduler for that XCom
        final = wait_for(
            lambda: (
                (s := deployment.states("outlive", "r"))
                and s["state"] in ("success", "failed")
                and s
            ),
            60,
            "the run to finish",
        )
        second.send_signal(signal.SIGTERM)
        _out, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
    finally:
        _kill_leftovers(journal)

    assert final["state"] == "success", final
    assert _history(deployment, "outlive") == [
        ("r", "adopted", 1, "success"),  # no try lost to the crash
        ("r", "finished_meanwhile", 1, "success"),
        ("r", "killed_meanwhile", 1, "up_for_retry"),  # it really died: retried as usual
        ("r", "killed_meanwhile", 2, "success"),
    ]
    assert _xcoms(deployment, "outlive") == {
        ("r", "adopted"): {"pulled": "finished while no scheduler ran"},
        ("r", "finished_meanwhile"): "finished while no scheduler ran",
        ("r", "killed_meanwhile"): 2,
    }
    lines = [" ".join(words[:3]) for words in _journal(journal)]
    assert sorted(lines) == sorted(
        [
            "start adopted 1",
            "end adopted 1",
            "start finished_meanwhile 1",
            "end finished_meanwhile 1",
            "start killed_meanwhile 1",
            "start killed_meanwhile 2",
            "end killed_meanwhile 2",
        ]
    )  # no work done twice
    log = deployment.cli("tasks", "logs", "outlive", "r", "adopted").stdout
    for expected in (
        "Lost contact with the scheduler",
        "took it over",
        "pulled finished while no scheduler ran",
        "Marking task as SUCCESS",
    ):
        assert expected in log, log
    assert (
        "its scheduler or worker stopped"
        in deployment.cli("tasks", "logs", "outlive", "r", "killed_meanwhile", "--try", "1").stdout
    )


ANCESTRY = """
    import os, time
    from tradewind import DAG, PythonOperator

    def parent_of(pid):
        with open(f"/proc/{{pid}}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])

    def work(ti, dag_run, run_id):
        with open({journal!r}, "a") as handle:
            handle.write(f"start {{dag_run.dag_id}}.{{ti.task_id}}.{{run_id}} {{ti.try_number}} "
                         f"{{os.getpid()}} "
                         f"{{os.getppid()}} {{parent_of(os.getppid())}}\\n")
        deadline = time.monotonic() + 90
        go = os.path.join({folder!r}, "go_" + run_id)
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.05)
        return os.getpid()

    for name in ("lean_a", "lean_b"):
        with DAG(name, schedule=None) as dag:
            for n in range(2):
                PythonOperator(task_id=f"t{{n}}", python_callable=work)
        globals()[name] = dag
"""


def test_tries_outlive_a_killed_fork_server_and_a_killed_launcher(deployment, tmp_path) -> None:
    wait_for = deployment.wait_for
    journal = tmp_path / "journal.txt"
    deployment.write("ancestry.py", ANCESTRY.format(journal=str(journal), folder=str(tmp_path)))
    deployment.parse()

    def started(dag_id: str, run_id: str) -> list[list[str]]:
        return [
            words
            for words in _journal(journal)
            if words[1].startswith(f"{dag_id}.") and words[1].endswith(f".{run_id}")
        ]

    def run(dag_id: str, run_id: str) -> list[list[str]]:
        assert deployment.cli("dags", "trigger", dag_id, "--run-id", run_id).returncode == 0
        wait_for(
            lambda: len(started(dag_id, run_id)) == 2,
            60,
            f"the tries of {dag_id} {run_id} to start",
        )
        return started(dag_id, run_id)

    def finish(dag_id: str, run_id: str) -> None:
        (tmp_path / f"go_{run_id}").touch()
        wait_for(
            lambda: (
                (s := deployment.states(dag_id, run_id)) and s["state"] in ("success", "failed")
            ),
            60,
            f"{dag_id} {run_id} to finish",
        )
        assert deployment.states(dag_id, run_id)["state"] == "success"

    scheduler = deployment.start("scheduler")
    try:
        # The first launcher comes from the scheduler itself, while the fork server starts.
        attempt = 0
        while True:
            attempt += 1
            tries = run("lean_a", f"a{attempt}")
            if int(tries[0][5]) != scheduler.pid:  # the launcher's parent is the fork server
                break
            assert attempt < 5, "no launcher came from the fork server"
            finish("lean_a", f"a{attempt}")
        launcher, server = int(tries[0][4]), int(tries[0][5])
        os.kill(server, signal.SIGKILL)  # its launchers die with it; their tries go on
        wait_for(lambda: not alive(launcher), 30, "the launcher to die with the fork server")
        assert all(alive(int(words[3])) for words in tries)
        finish("lean_a", f"a{attempt}")

        tries = run("lean_b", "b1")  # a new version's launcher, forked here (the server failed)
        os.kill(int(tries[0][4]), signal.SIGKILL)
        wait_for(lambda: not alive(int(tries[0][4])), 30, "the launcher to die")
        assert all(alive(int(words[3])) for words in tries)
        finish("lean_b", "b1")
        scheduler.send_signal(signal.SIGTERM)
        _out, err = scheduler.communicate(timeout=60)
        assert scheduler.returncode == 0, err
    finally:
        for words in _journal(journal):
            if alive(int(words[3])):
                os.kill(int(words[3]), signal.SIGKILL)

    history = [row for row in _history(deployment, "lean_a") if row[0] == f"a{attempt}"] + _history(
        deployment, "lean_b"
    )
    assert history == [
        (f"a{attempt}", "t0", 1, "success"),
        (f"a{attempt}", "t1", 1, "success"),
        ("b1", "t0", 1, "success"),
        ("b1", "t1", 1, "success"),
    ]
    pids = {
        (words[1].split(".")[0], words[1].split(".")[2], words[1].split(".")[1]): int(words[3])
        for words in _journal(journal)
    }
    xcoms = {**_xcoms(deployment, "lean_a"), **_xcoms(deployment, "lean_b")}
    for run_id, dag_id in ((f"a{attempt}", "lean_a"), ("b1", "lean_b")):
        for task_id in ("t0", "t1"):
            assert (
                xcoms[(run_id, task_id)] == pids[(dag_id, run_id, task_id)]
            )  # from the try that outlived
