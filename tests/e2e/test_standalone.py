"""``tradewind standalone``: migrates, creates ``admin`` once, runs everything in one process
tree on SQLite, and stops cleanly on Ctrl-C (SIGINT): running tasks may finish, and a second
Ctrl-C terminates them at once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest
from sqlalchemy import func, select

from tests.e2e.conftest import TRADEWIND
from tradewind.db.models import Job

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]

LONG = """
    import time
    from tradewind import DAG, PythonOperator
    with DAG("long", schedule=None) as dag:
        PythonOperator(task_id="sleep", python_callable=lambda: time.sleep(120))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _standalone_env(deployment) -> dict[str, str]:
    """Standalone's own SQLite under $TRADEWIND_HOME, its own pause default, a free port."""
    env = {
        key: value
        for key, value in deployment.env.items()
        if key not in ("TRADEWIND__DATABASE__URL", "TRADEWIND__CORE__DAGS_ARE_PAUSED_AT_CREATION")
    }
    return {**env, "TRADEWIND__API__HOST": "127.0.0.1", "TRADEWIND__API__PORT": str(_free_port())}


def test_standalone_runs_and_stops_on_sigint(deployment) -> None:
    deployment.env = _standalone_env(deployment)
    deployment.write("long.py", LONG)
    password_file = deployment.home / "standalone_admin_password.txt"

    standalone = deployment.start("standalone")
    deployment.wait_for(password_file.exists, 30, "the admin password file")
    password = password_file.read_text().strip()
    assert oct(os.stat(password_file).st_mode & 0o777) == "0o600"
    deployment.wait_for(
        lambda: deployment.cli("dags", "trigger", "long", "--run-id", "r").returncode == 0,
        30,
        "the DAG to be parsed and triggered",
    )
    deployment.wait_for(
        lambda: (s := deployment.states("long", "r")) and s["tasks"]["sleep"]["state"] == "running",
        30,
        "the task to run (standalone's DAGs start unpaused)",
    )
    running_pids = _children(standalone.pid)
    standalone.send_signal(signal.SIGINT)
    with pytest.raises(
        subprocess.TimeoutExpired
    ):  # it lets the running task finish (it would, in 60 s)
        standalone.wait(timeout=2)
    stopped_at = time.monotonic()
    standalone.send_signal(signal.SIGINT)  # the second Ctrl-C stops at once
    _out, err = standalone.communicate(timeout=30)
    assert time.monotonic() - stopped_at < 15
    assert standalone.returncode == 0, err
    assert "stopping now" in err
    assert err.count(password) == 1  # printed once
    for pid in running_pids:
        assert not os.path.exists(f"/proc/{pid}") or _zombie(pid), "a child outlived standalone"
    states = deployment.states("long", "r")
    assert states["tasks"]["sleep"]["state"] == "failed"  # terminated, and marked so
    log = deployment.cli("tasks", "logs", "long", "r", "sleep")
    assert "SIGTERM" in log.stdout

    again = deployment.start("standalone")
    running = (
        select(Job.job_type, func.count()).where(Job.state == "running").group_by(Job.job_type)
    )
    deployment.wait_for(
        lambda: (
            dict(deployment.read(lambda s: s.execute(running).all()))
            == {"scheduler": 1, "dag_processor": 1}
        ),
        30,
        "the second scheduler and DAG processor to start (the first ones' jobs ended)",
    )
    again.send_signal(signal.SIGINT)
    _out, err = again.communicate(timeout=30)
    assert again.returncode == 0, err
    assert password not in err and "password" not in err  # the admin exists: no new password
    assert password_file.read_text().strip() == password


CRASHY = """
    import os, time
    from tradewind import DAG, PythonOperator

    def work(ti, run_id):
        with open({journal!r}, "a") as handle:
            handle.write(f"start {{run_id}} {{ti.task_id}} {{ti.try_number}} {{os.getpid()}}\\n")
        time.sleep(4)
        with open({journal!r}, "a") as handle:
            handle.write(f"end {{run_id}} {{ti.task_id}} {{ti.try_number}} {{os.getpid()}}\\n")
        return run_id

    with DAG("crashy", schedule=None) as dag:  # no retries: a lost try would fail its run
        for n in range(3):
            PythonOperator(task_id=f"w{{n}}", python_callable=work)
"""


def test_standalone_killed_with_sigkill_and_restarted_loses_no_try(deployment, tmp_path) -> None:
    deployment.env = _standalone_env(deployment)
    journal = tmp_path / "journal.txt"
    deployment.write("crashy.py", CRASHY.format(journal=str(journal)))

    def lines() -> list[list[str]]:
        return (
            [line.split() for line in journal.read_text().splitlines()] if journal.exists() else []
        )

    first = deployment.start("standalone")
    try:
        deployment.wait_for(
            lambda: deployment.cli("dags", "trigger", "crashy", "--run-id", "r0").returncode == 0,
            60,
            "the DAG to be parsed and triggered",
        )
        for n in (1, 2):
            assert deployment.cli("dags", "trigger", "crashy", "--run-id", f"r{n}").returncode == 0
        deployment.wait_for(
            lambda: sum(words[0] == "start" for words in lines()) == 9, 60, "nine tries to start"
        )
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
        host, port = (
            deployment.env["TRADEWIND__API__HOST"],
            int(deployment.env["TRADEWIND__API__PORT"]),
        )
        deployment.wait_for(lambda: _port_free(host, port), 30, "the API server to be gone")

        again = deployment.start("standalone")
        for n in range(3):
            deployment.wait_for(
                lambda n=n: (
                    (s := deployment.states("crashy", f"r{n}"))
                    and s["state"] in ("success", "failed")
                ),
                60,
                f"run r{n} to finish after the restart",
            )
        again.send_signal(signal.SIGINT)
        _out, err = again.communicate(timeout=60)
        assert again.returncode == 0, err
    finally:
        for words in lines():
            if os.path.exists(f"/proc/{words[4]}") and not _zombie(int(words[4])):
                os.kill(int(words[4]), signal.SIGKILL)
    for n in range(3):
        states = deployment.states("crashy", f"r{n}")
        assert states["state"] == "success", states
        assert {task["try_number"] for task in states["tasks"].values()} == {1}
    done = sorted(" ".join(words[:4]) for words in lines())
    assert done == sorted(
        f"{kind} r{n} w{m} 1" for kind in ("start", "end") for n in range(3) for m in range(3)
    )


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


SLOW_TO_IMPORT = """
    import os, time
    from pathlib import Path
    Path(os.environ["PARSE_PID_FILE"]).write_text(str(os.getpid()))
    time.sleep(30)
    from tradewind import DAG
    DAG("slow_to_import", schedule=None)
"""


def _ignore_sigint() -> None:
    """What a shell does to a command it starts in the background of a script."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("inherited", ["default", "ignored"])
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_standalone_stops_on_a_signal_during_start_up(
    deployment, tmp_path, inherited: str, stop_signal: signal.Signals
) -> None:
    """A stop request while standalone migrates and parses ends it at once and cleanly: neither
    lost (SIGINT inherited ignored) nor a KeyboardInterrupt traceback, and no parse outlives it."""
    pid_file = tmp_path / "parse.pid"
    deployment.env = {**_standalone_env(deployment), "PARSE_PID_FILE": str(pid_file)}
    deployment.write("slow_to_import.py", SLOW_TO_IMPORT)
    standalone = subprocess.Popen(
        [TRADEWIND, "standalone"],
        env=deployment.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint if inherited == "ignored" else None,
    )
    deployment.processes.append(standalone)
    deployment.wait_for(pid_file.exists, 60, "the start-up parse to import the slow file")
    parse_pid = int(pid_file.read_text())
    standalone.send_signal(stop_signal)
    _out, err = standalone.communicate(timeout=15)
    assert standalone.returncode == 0, err
    assert f"Received {stop_signal.name} during start-up: stopped" in err
    assert "Traceback" not in err
    deployment.wait_for(
        lambda: not os.path.exists(f"/proc/{parse_pid}") or _zombie(parse_pid),
        10,
        "the parse of the slow file to end with standalone",
    )
    assert "Tradewind is running" not in err  # nothing was started after the request
