"""Warm launchers: tries forked from a process that loaded their DAG version once, with the
executor's contract unchanged (events, terminate, end) and a direct fork when a launcher
cannot serve."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.executors.process_helpers import alive, parent_of, tries_ended, wait_for
from tradewind.executors import launchers
from tradewind.executors.base import TaskDied, TaskFinished, TaskStarted
from tradewind.executors.launchers import LauncherPool
from tradewind.executors.local import LocalExecutor
from tradewind.runner.runtime import RunInfo
from tradewind.runner.workload import TaskWorkload
from tradewind.sdk import timezone

pytestmark = pytest.mark.skipif(
    not launchers.supported(), reason="warm launchers need Linux pidfds"
)

SOURCE = textwrap.dedent("""
    import os, time
    from tradewind import DAG, PythonOperator

    with open(os.environ["TW_TEST_LOADS"], "a") as handle:
        handle.write(f"{os.getpid()}\\n")

    def noop():
        return os.getpid()

    def block():
        time.sleep(60)

    def wait_go():
        deadline = time.monotonic() + 30
        while not os.path.exists(os.environ["TW_TEST_GO"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        return os.getpid()

    with DAG("warm", schedule=None) as dag:
        PythonOperator(task_id="noop", python_callable=noop)
        PythonOperator(task_id="block", python_callable=block)
        PythonOperator(task_id="wait_go", python_callable=wait_go)
""")

BROKEN = "raise RuntimeError('broken at import')\n"

RUN = RunInfo(
    dag_id="warm",
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
        dag_id="warm",
        run_id="r1",
        task_id=task_id,
        map_index=-1,
        try_number=1,
        max_tries=0,
        fileloc=str(tmp_path / "warm.py"),
        source_code=source,
        run=RUN,
        log_path=str(tmp_path / "logs" / f"{task_id}-{ti_id}.log"),
        **kwargs,
    )


@pytest.fixture
def loads(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "loads.txt"
    monkeypatch.setenv("TW_TEST_LOADS", str(path))
    return path


@pytest.fixture
def executor():
    executor = LocalExecutor(parallelism=8, kill_grace=0.5)
    executor.start(lambda message: {"error": "unknown"})
    yield executor
    executor.end(grace=0.5)


def test_tries_of_one_version_share_a_launcher_that_loaded_the_source_once(
    tmp_path, loads, executor
) -> None:
    for ti_id in (1, 2, 3):
        executor.launch(_workload(tmp_path, ti_id, "noop"))
    assert executor.running_ti_ids == {1, 2, 3} and executor.open_slots == 5
    events = wait_for(executor, lambda evs: tries_ended(evs, 3) and not executor.running_ti_ids)
    started = [e for e in events if isinstance(e, TaskStarted)]
    finished = [e for e in events if isinstance(e, TaskFinished)]
    assert sorted(e.ti_id for e in started) == [1, 2, 3]
    assert all(e.message["state"] == "success" for e in finished) and len(finished) == 3
    (launcher,) = list(executor.launchers)
    assert loads.read_text().split() == [str(launcher.pid)]  # the source ran once, in the launcher
    assert {e.pid for e in started} & {os.getpid(), launcher.pid} == set()
    assert executor.open_slots == 8


def test_a_launched_try_killed_with_sigkill_is_reported_with_its_status(
    tmp_path, loads, executor
) -> None:
    executor.launch(_workload(tmp_path, 1, "block"))
    (started,) = wait_for(executor, lambda evs: evs)
    assert isinstance(started, TaskStarted)
    assert parent_of(started.pid) == next(iter(executor.launchers)).pid
    os.kill(started.pid, signal.SIGKILL)
    before = time.monotonic()
    events = wait_for(executor, lambda evs: tries_ended(evs), timeout=5)
    assert time.monotonic() - before < 1.0
    assert events == [
        TaskDied(1, "the task process was killed by SIGKILL without reporting an outcome")
    ]
    assert executor.open_slots == 8


def test_terminate_right_after_launch_reaches_the_try(tmp_path, loads, executor) -> None:
    executor.launch(_workload(tmp_path, 1, "block"))
    executor.terminate(1)  # before the launcher said which pid it has
    events = wait_for(executor, lambda evs: tries_ended(evs), timeout=10)
    (ended,) = [e for e in events if isinstance(e, (TaskFinished, TaskDied))]
    if isinstance(ended, TaskFinished):
        assert ended.message["state"] == "failed"


def test_a_version_the_launcher_cannot_load_is_run_directly_and_reports_the_error(
    tmp_path, loads, executor
) -> None:
    executor.launch(_workload(tmp_path, 1, "noop", source=BROKEN))
    events = wait_for(executor, lambda evs: tries_ended(evs))
    (finished,) = [e for e in events if isinstance(e, TaskFinished)]
    assert finished.message["state"] == "failed"
    assert "broken at import" in finished.message["error"]
    assert "broken at import" in (tmp_path / "logs" / "noop-1.log").read_text()
    (started,) = [e for e in events if isinstance(e, TaskStarted)]
    # The next try of that version is forked here at once, without a launcher.
    executor.launch(_workload(tmp_path, 2, "noop", source=BROKEN))
    events = wait_for(executor, lambda evs: tries_ended(evs))
    (started,) = [e for e in events if isinstance(e, TaskStarted)]
    assert list(executor.launchers) == []


def test_a_launcher_killed_under_its_tries_leaves_them_running_and_the_next_try_runs(
    tmp_path, loads, monkeypatch, executor
) -> None:
    go = tmp_path / "go"
    monkeypatch.setenv("TW_TEST_GO", str(go))
    executor.launch(_workload(tmp_path, 1, "wait_go"))
    executor.launch(_workload(tmp_path, 2, "wait_go"))
    started = [
        e for e in wait_for(executor, lambda evs: len(evs) == 2) if isinstance(e, TaskStarted)
    ]
    (launcher,) = list(executor.launchers)
    os.kill(launcher.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while list(executor.launchers):
        assert time.monotonic() < deadline, "the executor did not notice its launcher died"
        assert not tries_ended(executor.wait(0.05, [])[0])
    assert all(alive(e.pid) for e in started) and executor.running_ti_ids == {1, 2}
    go.touch()
    events = wait_for(executor, lambda evs: tries_ended(evs, 2), timeout=10)
    finished = {e.ti_id: e.message for e in events if isinstance(e, TaskFinished)}
    assert {ti_id: message["state"] for ti_id, message in finished.items()} == {
        1: "success",
        2: "success",
    }
    executor.launch(_workload(tmp_path, 3, "noop"))
    events = wait_for(executor, lambda evs: tries_ended(evs))
    assert [e.message["state"] for e in events if isinstance(e, TaskFinished)] == ["success"]


def test_a_try_whose_launcher_died_before_forking_it_starts_here(tmp_path, loads, executor) -> None:
    executor.launch(_workload(tmp_path, 1, "noop"))
    wait_for(executor, lambda evs: tries_ended(evs) and not executor.running_ti_ids)
    (launcher,) = list(executor.launchers)
    os.kill(launcher.pid, signal.SIGSTOP)  # it cannot take the next try off its socket...
    executor.launch(_workload(tmp_path, 2, "noop"))
    os.kill(launcher.pid, signal.SIGKILL)  # ...and dies with it there
    events = wait_for(executor, lambda evs: tries_ended(evs), timeout=10)
    (finished,) = [e for e in events if isinstance(e, (TaskFinished, TaskDied))]
    assert isinstance(finished, TaskFinished) and finished.message["state"] == "success"
    (started,) = [e for e in events if isinstance(e, TaskStarted)]
    assert loads.read_text().split() == [
        str(launcher.pid),
        str(started.pid),
    ]  # forked here, it loaded the source


def test_idle_and_surplus_launchers_are_stopped(tmp_path, loads) -> None:
    executor = LocalExecutor(
        parallelism=4, launchers=LauncherPool(max_launchers=1, idle_timeout=0.3, churn_guard=0.0)
    )
    executor.start(lambda message: {"error": "unknown"})
    try:
        executor.launch(_workload(tmp_path, 1, "noop"))
        wait_for(executor, lambda evs: tries_ended(evs) and not executor.running_ti_ids)
        (first,) = list(executor.launchers)
        executor.launch(_workload(tmp_path, 2, "noop", source=SOURCE + "\n# another version\n"))
        wait_for(executor, lambda evs: tries_ended(evs) and not executor.running_ti_ids)
        assert first not in list(executor.launchers) or first.stopping
        deadline = time.monotonic() + 5
        while list(executor.launchers) or alive(first.pid):
            assert time.monotonic() < deadline, "idle launchers were not stopped"
            executor.wait(0.1, [])
    finally:
        executor.end(grace=0.5)


def test_end_stops_launchers_and_their_tries(tmp_path, loads) -> None:
    executor = LocalExecutor(parallelism=4, kill_grace=0.5)
    executor.start(lambda message: {"error": "unknown"})
    executor.launch(_workload(tmp_path, 1, "block"))
    (started,) = wait_for(executor, lambda evs: evs)
    (launcher,) = list(executor.launchers)
    events = executor.end(grace=0.5)
    assert [type(e) for e in events if e.ti_id == 1] in ([TaskFinished], [TaskDied])
    assert not alive(started.pid) and not alive(launcher.pid)
    assert list(executor.launchers) == [] and executor.running_ti_ids == set()


KILLED_PARENT = textwrap.dedent("""
    import os, sys, time
    from tradewind.executors.local import LocalExecutor
    from tradewind.runner.workload import TaskWorkload
    from tradewind.runner.runtime import RunInfo
    from tradewind.sdk import timezone

    source, folder = sys.argv[1], sys.argv[2]
    run = RunInfo(dag_id="warm", run_id="r1", logical_date=timezone.utcnow(),
                  data_interval_start=None,
                  data_interval_end=None, run_type="manual", conf={})
    executor = LocalExecutor(parallelism=2)
    executor.start(lambda message: {})
    executor.launch(TaskWorkload(ti_id=1, dag_id="warm", run_id="r1", task_id="wait_go",
                                 map_index=-1,
                                 try_number=1, max_tries=0, fileloc=folder + "/warm.py",
                                 source_code=open(source).read(), run=run,
                                 log_path=folder + "/wait_go.log",
                                 outcome_path=folder + "/outcomes/1-1.json"))
    while True:
        events, _ = executor.wait(0.5, [])
        if events:
            print(events[0].pid, next(iter(executor.launchers)).pid, flush=True)
            break
    time.sleep(60)
""")


def test_the_launcher_dies_with_the_executors_process_but_its_try_goes_on(
    tmp_path, loads, monkeypatch
) -> None:
    source = tmp_path / "source.py"
    source.write_text(SOURCE)
    monkeypatch.setenv("TW_TEST_GO", str(tmp_path / "go"))
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_PARENT, str(source), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    task_pid = None
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        task_pid, launcher_pid = (int(word) for word in line.split())
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 10
        while alive(launcher_pid):
            assert time.monotonic() < deadline, "the launcher outlived the executor's process"
            time.sleep(0.05)
        (tmp_path / "go").touch()  # the try goes on to its end, and leaves its outcome
        outcome = tmp_path / "outcomes" / "1-1.json"
        while not outcome.exists():
            assert time.monotonic() < deadline + 20, "the try died with its launcher"
            time.sleep(0.05)
        assert json.loads(outcome.read_text())["state"] == "success"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        if task_pid is not None and alive(task_pid):
            os.kill(task_pid, signal.SIGKILL)


THREADED = SOURCE + textwrap.dedent("""
    import threading
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
""")

CONNECTED = SOURCE + textwrap.dedent("""
    import socket
    held = socket.socket()
""")


@pytest.mark.parametrize("source", [THREADED, CONNECTED], ids=["threads", "open-socket"])
def test_a_version_that_leaves_threads_or_connections_is_not_forked_from_a_launcher(
    tmp_path, loads, executor, source
) -> None:
    executor.launch(_workload(tmp_path, 1, "noop", source=source))
    events = wait_for(executor, lambda evs: tries_ended(evs) and not executor.running_ti_ids)
    (finished,) = [e for e in events if isinstance(e, TaskFinished)]
    assert finished.message["state"] == "success"
    # Loaded twice: by the launcher, which gave up, and by the try itself.
    pids = loads.read_text().split()
    assert len(pids) == 2 and int(pids[1]) == next(
        e.pid for e in events if isinstance(e, TaskStarted)
    )
    assert list(executor.launchers) == []


def _busy_pool_executor(**pool: Any) -> LocalExecutor:
    """One launcher's room, and a pool that does not replace a launcher used in the last
    minute: a second version is what a thousand DAGs on a tight schedule look like."""
    settings: dict[str, Any] = {"max_launchers": 1, "churn_guard": 60.0, "hot_tries": 100}
    # (Launchers forked here: no fork server becoming ready retires them midway.)
    executor = LocalExecutor(
        parallelism=4, launchers=LauncherPool(**{**settings, **pool}), fork_server=False
    )
    executor.start(lambda message: {"error": "unknown"})
    return executor


def _run_one(executor: LocalExecutor, workload: TaskWorkload, go: Path) -> tuple[int, int]:
    """Run a ``wait_go`` try: (its pid, its parent's pid, read while it waits)."""
    go.unlink(missing_ok=True)
    executor.launch(workload)
    (started,) = wait_for(executor, lambda evs: evs)
    assert isinstance(started, TaskStarted)
    parent = parent_of(started.pid)
    go.touch()
    events = wait_for(executor, lambda evs: tries_ended(evs) and not executor.running_ti_ids)
    (finished,) = [e for e in events if isinstance(e, TaskFinished)]
    assert finished.message["state"] == "success"
    return started.pid, parent


def test_a_version_without_room_for_a_launcher_runs_on_the_launcher_of_any_version(
    tmp_path, loads, monkeypatch
) -> None:
    go = tmp_path / "go"
    monkeypatch.setenv("TW_TEST_GO", str(go))
    other = SOURCE + "\n# another version\n"
    executor = _busy_pool_executor()
    try:
        _run_one(executor, _workload(tmp_path, 1, "wait_go"), go)
        (own,) = list(executor.launchers)
        first, first_parent = _run_one(executor, _workload(tmp_path, 2, "wait_go", other), go)
        second, second_parent = _run_one(executor, _workload(tmp_path, 3, "wait_go", other), go)
        launchers_now = list(executor.launchers)
        assert own in launchers_now and not own.retired  # not replaced while in use
        (shared,) = [launcher for launcher in launchers_now if launcher is not own]
        assert shared.any_version and "any DAG version" in shared.describe()
        assert first_parent == shared.pid and second_parent == shared.pid
        # The shared launcher loaded nothing: each of its tries loaded its own source.
        assert loads.read_text().split() == [str(own.pid), str(first), str(second)]
    finally:
        executor.end(grace=0.5)


def test_a_version_in_demand_gets_its_own_launcher_even_when_the_pool_is_busy(
    tmp_path, loads, monkeypatch
) -> None:
    go = tmp_path / "go"
    monkeypatch.setenv("TW_TEST_GO", str(go))
    other = SOURCE + "\n# another version\n"
    executor = _busy_pool_executor(hot_tries=2)
    try:
        _run_one(executor, _workload(tmp_path, 1, "wait_go"), go)
        (own,) = list(executor.launchers)
        bare, _ = _run_one(executor, _workload(tmp_path, 2, "wait_go", other), go)
        _warm, warm_parent = _run_one(executor, _workload(tmp_path, 3, "wait_go", other), go)
        assert own.retired  # made room for the version in demand
        (hot,) = [
            launcher
            for launcher in executor.launchers
            if not launcher.retired and not launcher.any_version
        ]
        assert hot.key[2] == other and warm_parent == hot.pid
        assert loads.read_text().split() == [str(own.pid), str(bare), str(hot.pid)]
    finally:
        executor.end(grace=0.5)


def test_a_launcher_stopped_for_its_age_while_in_use_is_replaced_at_once(
    tmp_path, loads, monkeypatch
) -> None:
    go = tmp_path / "go"
    monkeypatch.setenv("TW_TEST_GO", str(go))
    executor = LocalExecutor(parallelism=2, launchers=LauncherPool(max_age=0.5, idle_timeout=30.0))
    executor.start(lambda message: {"error": "unknown"})
    try:
        _run_one(executor, _workload(tmp_path, 1, "wait_go"), go)
        (old,) = list(executor.launchers)
        deadline = time.monotonic() + 10
        while old in list(executor.launchers):
            assert time.monotonic() < deadline, "the aged launcher was not replaced"
            executor.wait(0.01, [])
        executor.launchers.max_age = 60.0  # no more replacements while the rest is checked
        (new,) = list(executor.launchers)
        while not new.loaded:
            assert time.monotonic() < deadline, "the replacement did not load"
            executor.wait(0.05, [])
        assert new is not old and new.key == old.key and not alive(old.pid)
        # Warm before any try asked for it: the next try is forked from it.
        assert loads.read_text().split() == [str(old.pid), str(new.pid)]
        _pid, parent = _run_one(executor, _workload(tmp_path, 2, "wait_go"), go)
        assert parent == new.pid
    finally:
        executor.end(grace=0.5)
