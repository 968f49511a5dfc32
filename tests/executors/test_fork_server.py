"""The fork server: launchers forked from a lean interpreter instead of the executor's
process, with the executor's contract unchanged and a fallback when the server is gone."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.executors.process_helpers import alive, tries_ended, wait_for
from tradewind.executors import fork_server_client, launchers
from tradewind.executors.base import Event, TaskDied, TaskFinished, TaskStarted
from tradewind.executors.local import LocalExecutor
from tradewind.runner import fork_server
from tradewind.runner.runtime import RunInfo
from tradewind.runner.workload import TaskWorkload
from tradewind.sdk import timezone

pytestmark = pytest.mark.skipif(
    not (launchers.supported() and fork_server_client.supported()),
    reason="the fork server needs Linux pidfds and memfds",
)

SOURCE = textwrap.dedent("""
    import os, sys, time
    from tradewind import DAG, PythonOperator

    def modules():
        return {"pid": os.getpid(), "ppid": os.getppid(),
                "heavy": sorted(name
                                for name in ("sqlalchemy", "fastapi", "uvicorn", "cryptography")
                                if name in sys.modules)}

    def block():
        time.sleep(60)

    def wait_go():
        deadline = time.monotonic() + 30
        while not os.path.exists(os.environ["TW_TEST_GO"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        return os.getpid()

    with DAG("lean", schedule=None) as dag:
        PythonOperator(task_id="modules", python_callable=modules)
        PythonOperator(task_id="block", python_callable=block)
        PythonOperator(task_id="wait_go", python_callable=wait_go)
""")

RUN = RunInfo(
    dag_id="lean",
    run_id="r1",
    logical_date=timezone.utcnow(),
    data_interval_start=None,
    data_interval_end=None,
    run_type="manual",
    conf={},
)


def _workload(
    tmp_path: Path, ti_id: int, task_id: str, source: str = SOURCE, **kwargs: Any
) -> TaskWorkload:
    return TaskWorkload(
        ti_id=ti_id,
        dag_id="lean",
        run_id="r1",
        task_id=task_id,
        map_index=-1,
        try_number=1,
        max_tries=0,
        fileloc=str(tmp_path / "lean.py"),
        source_code=source,
        run=RUN,
        log_path=str(tmp_path / "logs" / f"{task_id}-{ti_id}.log"),
        **kwargs,
    )


def _returned(events: list[Event]) -> dict[str, Any]:
    (finished,) = [e for e in events if isinstance(e, TaskFinished)]
    assert finished.message["state"] == "success", finished.message
    (value,) = [value for key, value in finished.message["xcoms"] if key == "return_value"]
    return json.loads(value)


def _run_modules_try(
    executor: LocalExecutor, tmp_path: Path, ti_id: int, source: str = SOURCE
) -> dict[str, Any]:
    executor.launch(_workload(tmp_path, ti_id, "modules", source=source))
    return _returned(
        wait_for(executor, lambda evs: tries_ended(evs) and not executor.running_ti_ids)
    )


def _server_ready(executor: LocalExecutor, timeout: float = 20.0) -> None:
    server = executor.fork_server
    assert server is not None
    deadline = time.monotonic() + timeout
    while not server.ready:
        assert time.monotonic() < deadline, "the fork server did not become ready"
        executor.wait(0.05, [])


@pytest.fixture
def executor():
    executor = LocalExecutor(parallelism=8, kill_grace=0.5)
    executor.start(lambda message: {"error": "unknown"})
    yield executor
    executor.end(grace=0.5)


def test_once_the_server_is_ready_tries_come_from_a_lean_launcher(tmp_path, executor) -> None:
    import sqlalchemy  # noqa: F401 - the executor's process has the metastore's modules

    first = _run_modules_try(executor, tmp_path, 1)
    (stopgap,) = list(executor.launchers)
    assert stopgap.forked_here and first["ppid"] == stopgap.pid
    assert first["heavy"]  # forked from this process, it inherited them
    _server_ready(executor)
    second = _run_modules_try(executor, tmp_path, 2)
    lean = [launcher for launcher in executor.launchers if not launcher.forked_here]
    assert len(lean) == 1 and second["ppid"] == lean[0].pid
    assert second["heavy"] == []
    assert stopgap.retired  # no new tries for the heavy launcher; it stops once idle
    deadline = time.monotonic() + 5
    while alive(stopgap.pid):
        assert time.monotonic() < deadline, "the retired launcher was not stopped"
        executor.wait(0.05, [])


def test_a_lean_launchers_try_killed_with_sigkill_is_reported(tmp_path, executor) -> None:
    _run_modules_try(executor, tmp_path, 1)
    _server_ready(executor)
    executor.launch(_workload(tmp_path, 2, "block"))
    (started,) = wait_for(executor, lambda evs: evs)
    assert isinstance(started, TaskStarted)
    os.kill(started.pid, signal.SIGKILL)
    events = wait_for(executor, lambda evs: tries_ended(evs), timeout=5)
    assert events == [
        TaskDied(2, "the task process was killed by SIGKILL without reporting an outcome")
    ]


@pytest.mark.parametrize("home", [False, True], ids=["watched-by-channel", "watched-by-beacon"])
def test_a_lean_launcher_killed_under_its_try_leaves_it_running_and_the_next_try_runs(
    tmp_path, monkeypatch, caplog, home
) -> None:
    go = tmp_path / "go"
    monkeypatch.setenv("TW_TEST_GO", str(go))
    executor = LocalExecutor(parallelism=8, kill_grace=0.5)
    executor.start(lambda message: {"error": "unknown"}, home=tmp_path if home else None)
    try:
        _run_modules_try(executor, tmp_path, 1)
        _server_ready(executor)
        executor.launch(_workload(tmp_path, 2, "wait_go"))
        (started,) = wait_for(executor, lambda evs: evs)
        (launcher,) = [launcher for launcher in executor.launchers if not launcher.forked_here]
        os.kill(launcher.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while launcher.pid in {each.pid for each in executor.launchers}:
            assert time.monotonic() < deadline, "the executor did not notice its launcher died"
            assert not tries_ended(executor.wait(0.05, [])[0])
        assert "killed by SIGKILL" in caplog.text  # the server told how its launcher ended
        assert alive(started.pid) and executor.running_ti_ids == {2}  # the try goes on
        go.touch()
        events = wait_for(executor, lambda evs: tries_ended(evs), timeout=10)
        assert _returned(events) == started.pid  # and its outcome is reported as usual
        # As for any launcher that died: that version's tries are forked here for a while.
        assert _run_modules_try(executor, tmp_path, 3)["ppid"] == os.getpid()
    finally:
        executor.end(grace=0.5)


def test_without_the_server_launchers_are_forked_here_and_tries_still_run(
    tmp_path, executor
) -> None:
    _run_modules_try(executor, tmp_path, 1)
    _server_ready(executor)
    server = executor.fork_server
    assert server is not None and server.proc is not None
    server_pid = server.proc.pid
    os.kill(server_pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while server.running:
        assert time.monotonic() < deadline, "the executor did not notice its fork server ended"
        executor.wait(0.05, [])
    # Its launchers died with it; the next version's launcher is forked here, and runs.
    other = SOURCE + "\n# another version\n"
    result = _run_modules_try(executor, tmp_path, 2, source=other)
    launcher = next(launcher for launcher in executor.launchers if launcher.key[2] == other)
    assert launcher.forked_here and result["ppid"] == launcher.pid
    assert not server.can_start()  # not again right away


def test_end_stops_the_server_its_launchers_and_their_tries(tmp_path) -> None:
    executor = LocalExecutor(parallelism=4, kill_grace=0.5)
    executor.start(lambda message: {"error": "unknown"})
    _run_modules_try(executor, tmp_path, 1)
    _server_ready(executor)
    executor.launch(_workload(tmp_path, 2, "block"))
    (started,) = wait_for(executor, lambda evs: evs)
    server = executor.fork_server
    assert server is not None and server.proc is not None
    server_pid = server.proc.pid
    pids = [launcher.pid for launcher in executor.launchers]
    events = executor.end(grace=0.5)
    assert [type(e) for e in events if e.ti_id == 2] in ([TaskFinished], [TaskDied])
    assert [pid for pid in [started.pid, server_pid, *pids] if alive(pid)] == [], (
        started.pid,
        server_pid,
        pids,
    )
    assert not server.running and list(executor.launchers) == []


KILLED_PARENT = textwrap.dedent("""
    import sys, time
    from tradewind.executors.local import LocalExecutor
    from tradewind.runner.workload import TaskWorkload
    from tradewind.runner.runtime import RunInfo
    from tradewind.sdk import timezone

    source, folder = sys.argv[1], sys.argv[2]
    run = RunInfo(dag_id="lean", run_id="r1", logical_date=timezone.utcnow(),
                  data_interval_start=None,
                  data_interval_end=None, run_type="manual", conf={})
    executor = LocalExecutor(parallelism=2)
    executor.start(lambda message: {})

    def launch(ti_id, task_id, version):
        executor.launch(TaskWorkload(ti_id=ti_id, dag_id="lean", run_id="r1", task_id=task_id,
                                     map_index=-1,
                                     try_number=1, max_tries=0, fileloc=folder + "/lean.py",
                                     source_code=open(source).read() + version, run=run,
                                     log_path=folder + f"/{task_id}-{ti_id}.log",
                                     outcome_path=folder + f"/outcomes/{ti_id}-1.json"))

    launch(1, "modules", "")  # starts the server
    while not executor.fork_server.ready or executor.running_ti_ids:
        executor.wait(0.05, [])
    launch(2, "wait_go", "# v2")
    while True:
        events, _ = executor.wait(0.5, [])
        started = [e for e in events if e.ti_id == 2]
        if started:
            launcher = next(l for l in executor.launchers if not l.forked_here)
            print(started[0].pid, launcher.pid, executor.fork_server.proc.pid, flush=True)
            break
    time.sleep(60)
""")


def test_server_and_launchers_die_with_the_executors_process_but_the_try_goes_on(tmp_path) -> None:
    source = tmp_path / "source.py"
    source.write_text(SOURCE)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_PARENT, str(source), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TW_TEST_GO": str(tmp_path / "go")},
    )
    task_pid = None
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        pids = [int(word) for word in line.split()]
        assert len(pids) == 3, line
        task_pid, launcher_pid, server_pid = pids
        proc.kill()
        _out, err = proc.communicate(timeout=30)
        deadline = time.monotonic() + 10
        while alive(launcher_pid) or alive(server_pid):
            assert time.monotonic() < deadline, (
                "the server or a launcher outlived the executor's process"
            )
            time.sleep(0.05)
        assert "Traceback" not in err, err  # the server ended quietly
        (tmp_path / "go").touch()  # the try goes on to its end, and leaves its outcome
        outcome = tmp_path / "outcomes" / "2-1.json"
        while not outcome.exists():
            assert time.monotonic() < deadline + 20, "the try died with its supervisors"
            time.sleep(0.05)
        assert json.loads(outcome.read_text())["state"] == "success"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
        if task_pid is not None and alive(task_pid):
            os.kill(task_pid, signal.SIGKILL)


def test_the_fork_server_ends_quietly_when_the_executor_is_gone() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server = subprocess.Popen(
        fork_server.command(theirs.fileno(), os.getpid()),
        pass_fds=(theirs.fileno(),),
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    theirs.close()
    try:
        assert select.select([ours], [], [], 30)[0], "the fork server never said it was ready"
        ours.close()  # as a killed executor's end: closed with a message unread, so it is reset
        _out, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert "Traceback" not in err, err
    assert server.returncode == 0
