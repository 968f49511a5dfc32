"""``LocalExecutor`` on its own: each try in a forked process that reports over a socket pair,
asks its parent for what lives in the metastore, and is noticed at once when it dies."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.executors.process_helpers import wait_for
from tradewind.executors.base import TaskDied, TaskFinished, TaskStarted
from tradewind.executors.launchers import LauncherPool
from tradewind.executors.local import LocalExecutor
from tradewind.runner import xcom_codec
from tradewind.runner.runtime import RunInfo
from tradewind.runner.workload import CallbackWorkload, TaskWorkload
from tradewind.sdk import timezone

SOURCE = textwrap.dedent("""
    import os, sys, time
    from tradewind import DAG, PythonOperator

    def add(ti):
        return ti.xcom_pull(task_ids="source", key="return_value") + 1

    def big(ti):
        return len(ti.xcom_pull(task_ids="big_source", key="return_value"))

    def secret(var, conn):
        print("the password is", var.value.db_password)
        api = conn.get("api")
        print("connecting with", api.password, "and", api.extra_dejson["auth"]["api_token"])
        sys.stdout.buffer.write(f"raw bytes {api.password}\\n".encode())
        return "done"

    def block():
        time.sleep(60)

    def record(context):
        with open(os.environ["TW_TEST_MARKER"], "w") as handle:
            handle.write(context["reason"] + " " + context["dag_run"].run_id)

    with DAG("exec", schedule=None, on_success_callback=record) as dag:
        PythonOperator(task_id="add", python_callable=add)
        PythonOperator(task_id="big", python_callable=big)
        PythonOperator(task_id="secret", python_callable=secret)
        PythonOperator(task_id="block", python_callable=block)
""")

RUN = RunInfo(
    dag_id="exec",
    run_id="r1",
    logical_date=timezone.utcnow(),
    data_interval_start=None,
    data_interval_end=None,
    run_type="manual",
    conf={},
)


def _workload(tmp_path: Path, ti_id: int, task_id: str, **kwargs: Any) -> TaskWorkload:
    return TaskWorkload(
        ti_id=ti_id,
        dag_id="exec",
        run_id="r1",
        task_id=task_id,
        map_index=-1,
        try_number=1,
        max_tries=0,
        fileloc=str(tmp_path / "exec.py"),
        source_code=SOURCE,
        run=RUN,
        log_path=str(tmp_path / "logs" / f"{task_id}.log"),
        **kwargs,
    )


class Answers:
    """A request handler answering from a dict, recording what it was asked."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    def __call__(self, message: dict[str, Any]) -> dict[str, Any]:
        self.asked.append(message)
        if message["op"] == "xcom_get":
            if message["task_id"] == "big_source":
                return {"value": xcom_codec.encode("x" * 3_000_000)}
            return {"value": xcom_codec.encode(41)}
        if message["op"] == "variable_get":
            return {"value": "hunter2-secret"}
        if message["op"] == "connection_get":
            return {
                "connection": {
                    "conn_id": message["conn_id"],
                    "conn_type": "http",
                    "password": "pa55word",
                    "extra": '{"auth": {"api_token": "tok-123456"}}',
                }
            }
        return {"error": "unknown"}


@pytest.fixture
def executor():
    executor = LocalExecutor(parallelism=2, kill_grace=0.5)
    executor.start(Answers())
    yield executor
    executor.end(grace=0.5)


def test_a_try_runs_in_a_child_and_reports_its_outcome(tmp_path) -> None:
    answers = Answers()
    executor = LocalExecutor(parallelism=2)
    executor.start(answers)
    try:
        executor.launch(
            _workload(tmp_path, 1, "add", outcome_path=str(tmp_path / "outcomes" / "1-1.json"))
        )
        assert executor.open_slots == 1 and executor.running_ti_ids == {1}
        events = wait_for(executor, lambda evs: any(isinstance(e, TaskFinished) for e in evs))
    finally:
        executor.end(grace=0.5)
    started = next(e for e in events if isinstance(e, TaskStarted))
    finished = next(e for e in events if isinstance(e, TaskFinished))
    assert started.pid != os.getpid()
    assert finished.message["state"] == "success"
    assert finished.message["try_number"] == 1
    assert finished.message["xcoms"] == [["return_value", xcom_codec.encode(42)]]
    assert answers.asked[0]["op"] == "xcom_get" and answers.asked[0]["task_id"] == "source"
    assert (tmp_path / "outcomes" / "1-1.json").exists()  # written before it was sent
    assert executor.running_ti_ids == set()


def test_replies_larger_than_the_socket_buffer_arrive_whole(tmp_path, executor) -> None:
    executor.launch(_workload(tmp_path, 6, "big"))
    events = wait_for(
        executor, lambda evs: any(isinstance(e, (TaskFinished, TaskDied)) for e in evs)
    )
    (finished,) = [e for e in events if isinstance(e, TaskFinished)]
    assert finished.message["state"] == "success"
    assert finished.message["xcoms"] == [["return_value", xcom_codec.encode(3_000_000)]]


def test_secrets_are_masked_in_the_task_log(tmp_path, executor) -> None:
    executor.launch(_workload(tmp_path, 2, "secret"))
    wait_for(executor, lambda evs: any(isinstance(e, TaskFinished) for e in evs))
    log = (tmp_path / "logs" / "secret.log").read_text()
    assert "the password is ***" in log
    assert "connecting with *** and ***" in log
    assert "raw bytes ***" in log
    for secret in ("hunter2-secret", "pa55word", "tok-123456"):
        assert secret not in log


def test_a_child_killed_with_sigkill_is_reported_at_once(tmp_path, executor) -> None:
    executor.launch(_workload(tmp_path, 3, "block"))
    (started,) = wait_for(executor, lambda evs: evs)
    assert isinstance(started, TaskStarted)
    time.sleep(0.2)  # let the child get going
    os.kill(started.pid, signal.SIGKILL)
    before = time.monotonic()
    events = wait_for(executor, lambda evs: evs, timeout=5)
    assert time.monotonic() - before < 1.0
    assert events == [
        TaskDied(3, "the task process was killed by SIGKILL without reporting an outcome")
    ]
    assert executor.open_slots == 2


def test_terminate_stops_a_try(tmp_path, executor) -> None:
    executor.launch(_workload(tmp_path, 4, "block"))
    wait_for(executor, lambda evs: evs)
    time.sleep(0.2)
    executor.terminate(4)
    events = wait_for(
        executor, lambda evs: any(isinstance(e, (TaskFinished, TaskDied)) for e in evs), timeout=5
    )
    (ended,) = [e for e in events if isinstance(e, (TaskFinished, TaskDied))]
    assert isinstance(ended, TaskFinished) and ended.message["state"] == "failed"
    assert "SIGTERM" in (tmp_path / "logs" / "block.log").read_text()


def test_a_try_stopped_before_its_task_began_is_up_for_retry_when_it_has_retries_left(
    tmp_path, executor
) -> None:
    log_fifo = tmp_path / "stuck.log"
    os.mkfifo(log_fifo)  # opening its log blocks: the try is stopped while it sets itself up
    workload = dataclasses.replace(
        _workload(tmp_path, 7, "add"),
        max_tries=1,
        log_path=str(log_fifo),
        outcome_path=str(tmp_path / "outcomes" / "7-1.json"),
    )
    executor.launch(workload)
    wait_for(executor, lambda evs: evs)
    time.sleep(0.3)
    executor.terminate(7)
    events = wait_for(
        executor, lambda evs: any(isinstance(e, (TaskFinished, TaskDied)) for e in evs), timeout=10
    )
    (ended,) = [e for e in events if isinstance(e, (TaskFinished, TaskDied))]
    assert isinstance(ended, TaskFinished) and ended.message["state"] == "up_for_retry"


def test_children_do_not_keep_the_parents_private_sockets(tmp_path) -> None:
    private, other = socket.socketpair()
    executor = LocalExecutor(parallelism=2)
    executor.start(Answers(), private_fds=[private])
    try:
        executor.launch(_workload(tmp_path, 5, "block"))
        (started,) = wait_for(executor, lambda evs: evs)
        time.sleep(0.2)
        inode = os.fstat(private.fileno()).st_ino
        links = [
            os.readlink(f"/proc/{started.pid}/fd/{fd}")
            for fd in os.listdir(f"/proc/{started.pid}/fd")
        ]
        assert f"socket:[{inode}]" not in links
    finally:
        executor.end(grace=0.5)
        private.close()
        other.close()


def test_a_directly_forked_try_holds_none_of_the_parents_descriptors(tmp_path) -> None:
    # A try outlives its scheduler: were it to hold the scheduler's metastore connection, a
    # killed scheduler's transaction (and its locks) would stay open on the server.
    connection, server_end = socket.socketpair()
    executor = LocalExecutor(parallelism=2, launchers=LauncherPool(enabled=False))
    executor.start(Answers())
    try:
        executor.launch(_workload(tmp_path, 5, "block"))
        (started,) = wait_for(executor, lambda evs: evs)
        time.sleep(0.2)
        links = [
            os.readlink(f"/proc/{started.pid}/fd/{fd}")
            for fd in os.listdir(f"/proc/{started.pid}/fd")
        ]
        for sock in (connection, server_end):
            assert f"socket:[{os.fstat(sock.fileno()).st_ino}]" not in links
        assert sum(link.startswith("socket:") for link in links) == 1, links  # its channel
    finally:
        executor.end(grace=0.5)
        connection.close()
        server_end.close()


def test_dag_callback_runs_in_its_own_process(tmp_path, monkeypatch, executor) -> None:
    marker = tmp_path / "marker.txt"
    monkeypatch.setenv("TW_TEST_MARKER", str(marker))
    executor.launch_callback(
        CallbackWorkload(
            dag_id="exec",
            run_id="r1",
            fileloc=str(tmp_path / "exec.py"),
            source_code=SOURCE,
            run=RUN,
            success=True,
            reason="success",
            log_path=str(tmp_path / "logs" / "callbacks.log"),
            ti_task_id="add",
            ti_try_number=1,
            ti_state="success",
        )
    )
    assert executor.running_callbacks == 1
    assert executor.open_slots == 2  # callbacks do not take task slots
    deadline = time.monotonic() + 20
    while executor.running_callbacks:
        assert time.monotonic() < deadline
        assert executor.wait(0.5, []) == ([], [])
    assert marker.read_text() == "success r1"
