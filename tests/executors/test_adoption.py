"""Tries outlive the executor that started them: a new executor of the same home finds them by
their beacons, adopts them (their end, outcome and questions), and refuses impostors."""

from __future__ import annotations

import json
import os
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
from tradewind.executors import launchers
from tradewind.executors.base import TaskDied, TaskFinished
from tradewind.executors.local import LocalExecutor
from tradewind.runner import beacons, xcom_codec
from tradewind.runner.process_identity import ProcessIdentity
from tradewind.runner.protocol import LineChannel

pytestmark = pytest.mark.skipif(
    not (launchers.supported() and beacons.supported()),
    reason="adoption needs Linux pidfds and abstract Unix sockets",
)

SOURCE = textwrap.dedent("""
    import os, time
    from tradewind import DAG, PythonOperator

    def wait(name):
        deadline = time.monotonic() + 60
        path = os.path.join(os.environ["TW_TEST_DIR"], name)
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.02)

    def asks(ti):
        print("asks: waiting", flush=True)
        wait("go")
        value = ti.xcom_pull(task_ids="source", key="return_value")  # asked after its executor died
        print("asks: got", value, flush=True)
        return value + 1

    def sleeps():
        time.sleep(60)

    with DAG("orphans", schedule=None) as dag:
        PythonOperator(task_id="asks", python_callable=asks)
        PythonOperator(task_id="sleeps", python_callable=sleeps)
""")

#: An executor in its own process: it starts tries, prints their pids, and waits to be killed.
FIRST_EXECUTOR = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from tradewind.executors.base import TaskStarted
    from tradewind.executors.local import LocalExecutor
    from tradewind.runner import xcom_codec
    from tradewind.runner.runtime import RunInfo
    from tradewind.runner.workload import TaskWorkload
    from tradewind.sdk import timezone

    source, folder = sys.argv[1], Path(sys.argv[2])
    direct, tasks = sys.argv[3] == "direct", sys.argv[4].split(",")
    run = RunInfo(dag_id="orphans", run_id="r1", logical_date=timezone.utcnow(),
                  data_interval_start=None,
                  data_interval_end=None, run_type="manual", conf={})
    executor = LocalExecutor(parallelism=4, fork_server=False)
    if direct:
        executor.launchers.enabled = False
    executor.start(lambda message: {"value": xcom_codec.encode(1)}, home=folder)
    for ti_id, task_id in enumerate(tasks, start=1):
        executor.launch(TaskWorkload(ti_id=ti_id, dag_id="orphans", run_id="r1", task_id=task_id,
                                     map_index=-1,
                                     try_number=1, max_tries=0, fileloc=str(folder / "orphans.py"),
                                     source_code=open(source).read(), run=run,
                                     log_path=str(folder / f"{task_id}.log"),
                                     outcome_path=str(folder / "outcomes" / f"{ti_id}-1.json")))
    pids = {}
    while len(pids) < len(tasks):
        events, _ = executor.wait(0.5, [])
        pids.update({e.ti_id: e.pid for e in events if isinstance(e, TaskStarted)})
    print(" ".join(str(pids[n]) for n in sorted(pids)), flush=True)
    time.sleep(120)
""")


class Answers:
    def __init__(self, value: Any) -> None:
        self.value = value
        self.asked: list[dict[str, Any]] = []

    def __call__(self, message: dict[str, Any]) -> dict[str, Any]:
        self.asked.append(message)
        return {"value": xcom_codec.encode(self.value)}


def _orphan_tries(tmp_path: Path, tasks: list[str], *, direct: bool = False) -> list[int]:
    """Start tries from an executor in another process, then SIGKILL that process: their pids."""
    source = tmp_path / "source.py"
    source.write_text(SOURCE)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            FIRST_EXECUTOR,
            str(source),
            str(tmp_path),
            "direct" if direct else "launcher",
            ",".join(tasks),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TW_TEST_DIR": str(tmp_path)},
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
    pids = [int(word) for word in line.split()]
    assert len(pids) == len(tasks), line
    key = beacons.home_key(tmp_path)
    deadline = time.monotonic() + 10
    while {identity.pid for identity in beacons.live_tries(key).values()} != set(pids):
        assert time.monotonic() < deadline, "the tries did not put up their beacons"
        time.sleep(0.02)
    return pids


@pytest.fixture
def orphans_to_clean() -> Any:
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def _adopt_all(executor: LocalExecutor, tmp_path: Path) -> dict[int, int]:
    found = executor.orphans()
    for (ti_id, try_number), identity in found.items():
        assert executor.adopt(
            ti_id,
            try_number,
            identity,
            outcome_path=str(tmp_path / "outcomes" / f"{ti_id}-1.json"),
            label=f"try of {ti_id}",
        )
    return {ti_id: identity.pid for (ti_id, _try), identity in found.items()}


@pytest.mark.parametrize("direct", [False, True], ids=["from-a-launcher", "forked-directly"])
def test_a_try_outlives_its_executor_and_is_adopted_with_its_questions_and_outcome(
    tmp_path, orphans_to_clean, direct
) -> None:
    (pid,) = _orphan_tries(tmp_path, ["asks"], direct=direct)
    orphans_to_clean.append(pid)
    assert alive(pid), "the try died with its executor"
    answers = Answers(41)
    executor = LocalExecutor(parallelism=4, kill_grace=0.5, fork_server=False)
    executor.start(answers, home=tmp_path)
    try:
        assert _adopt_all(executor, tmp_path) == {1: pid}
        assert executor.running_ti_ids == {1} and executor.orphans() == {}
        (tmp_path / "go").touch()
        events = wait_for(executor, lambda evs: tries_ended(evs), timeout=20)
    finally:
        executor.end(grace=0.5)
    (finished,) = [e for e in events if isinstance(e, TaskFinished)]
    assert finished.message["state"] == "success", (tmp_path / "asks.log").read_text()
    assert finished.message["xcoms"] == [
        ["return_value", xcom_codec.encode(42)]
    ]  # answered by the new executor
    assert [message["op"] for message in answers.asked] == ["xcom_get"]
    log = (tmp_path / "asks.log").read_text()
    assert (
        "Lost contact with the scheduler" in log
        and f"Taken over by the scheduler in process {os.getpid()}" in log
    )
    assert "asks: got 41" in log


def test_an_adopted_try_that_dies_is_reported_and_a_finished_one_left_its_outcome(
    tmp_path, orphans_to_clean
) -> None:
    killed, finished_pid = _orphan_tries(tmp_path, ["sleeps", "asks"])
    orphans_to_clean.extend([killed, finished_pid])
    executor = LocalExecutor(parallelism=4, kill_grace=0.5, fork_server=False)
    executor.start(Answers(0), home=tmp_path)
    try:
        assert _adopt_all(executor, tmp_path) == {1: killed, 2: finished_pid}
        os.kill(killed, signal.SIGKILL)
        events = wait_for(executor, lambda evs: tries_ended(evs), timeout=10)
        assert events == [
            TaskDied(
                1,
                "the task process ended without reporting (it was adopted, so its exit "
                "status is unknown)",
            )
        ]
        # Without its question answered (say the scheduler is away), a try still ends: stopped
        # now, it records its outcome in the file, which the adopter reads.
        os.kill(finished_pid, signal.SIGTERM)
        events = wait_for(executor, lambda evs: tries_ended(evs), timeout=10)
        (ended,) = events
        assert isinstance(ended, TaskFinished) and ended.message["state"] == "failed"
        assert json.loads((tmp_path / "outcomes" / "2-1.json").read_text())["state"] == "failed"
    finally:
        executor.end(grace=0.5)


def test_end_terminates_adopted_tries(tmp_path, orphans_to_clean) -> None:
    (pid,) = _orphan_tries(tmp_path, ["sleeps"])
    orphans_to_clean.append(pid)
    executor = LocalExecutor(parallelism=4, kill_grace=0.5, fork_server=False)
    executor.start(Answers(0), home=tmp_path)
    assert _adopt_all(executor, tmp_path) == {1: pid}
    events = executor.end(grace=2.0)
    assert [(type(e), e.message["state"]) for e in events if isinstance(e, TaskFinished)] == [
        (TaskFinished, "failed")
    ]
    assert not alive(pid)


def test_a_process_that_is_not_the_try_it_claims_is_refused(tmp_path) -> None:
    executor = LocalExecutor(parallelism=4, fork_server=False)
    executor.start(Answers(0), home=tmp_path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(beacons.supervisor_address(beacons.home_key(tmp_path)))
        channel = LineChannel(sock)
        channel.send({"op": "resume", "ti_id": 1, "try_number": 1})
        sock.setblocking(False)
        deadline = time.monotonic() + 5
        replies: list[dict[str, Any]] = []
        while not replies:
            assert time.monotonic() < deadline, "no answer"
            executor.wait(0.05, [])
            replies = channel.receive_available()
        assert replies == [{"error": f"process {os.getpid()} is not try 1 of task instance 1"}]
        # Its beacon is what makes a process the try: with it, the same claim is taken.
        beacon = beacons.hold(beacons.home_key(tmp_path), 1, 1)
        assert beacon is not None
        assert beacons.live_tries(beacons.home_key(tmp_path)) == {(1, 1): ProcessIdentity.of_self()}
        beacon.close()
    finally:
        sock.close()
        executor.end(grace=0.5)
