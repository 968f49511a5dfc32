"""A try that ends before its launcher's report of its start is read: the executor reports
the start first, then the end (the order every executor promises), or the end alone if the
launcher died before saying it started it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tradewind.executors.base import TaskFinished
from tradewind.executors.children import Child, ChildKind
from tradewind.executors.request_relay import RequestRelay
from tradewind.executors.try_supervisor import TrySupervisor, take_held_finish
from tradewind.runner import message_codec
from tradewind.runner.messages import TaskDone
from tradewind.runner.protocol import LineChannel
from tradewind.runner.runtime import RunInfo
from tradewind.runner.task_execution import TryOutcome
from tradewind.runner.workload import TaskWorkload
from tradewind.sdk import timezone
from tradewind.sdk.states import TaskInstanceState


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def _launched_try(
    tmp_path: Path, pair: tuple[socket.socket, socket.socket]
) -> tuple[TrySupervisor, Child, TaskDone]:
    ours = pair[0]
    run = RunInfo("d", "r", timezone.utcnow(), None, None, "manual", {})
    workload = TaskWorkload(
        ti_id=7, dag_id="d", run_id="r", task_id="t", map_index=-1, try_number=1, max_tries=0,
        fileloc=str(tmp_path / "d.py"), source_code="", run=run,
        log_path=str(tmp_path / "t.log"),
    )  # fmt: skip
    supervisor = TrySupervisor(RequestRelay(), kill_grace=1.0)
    child = Child.for_try(ChildKind.LAUNCHED, None, LineChannel(ours), time.monotonic(), workload)
    supervisor.add_try(child, None)
    now = timezone.utcnow()
    done = TaskDone.of(7, 1, TryOutcome(TaskInstanceState.SUCCESS, now, now), [])
    return supervisor, child, done


def test_the_end_of_a_try_not_yet_reported_started_is_held_until_its_start(tmp_path, pair) -> None:
    supervisor, child, done = _launched_try(tmp_path, pair)
    assert supervisor.handle(child, [message_codec.to_frame(done)]) == []
    child.forked(4242)  # the launcher's report arrives
    assert take_held_finish(child) == [TaskFinished(7, done)]
    assert take_held_finish(child) == []  # once


def test_the_held_end_is_reported_when_the_launcher_died_before_reporting_the_start(
    tmp_path, pair
) -> None:
    supervisor, child, done = _launched_try(tmp_path, pair)
    supervisor.handle(child, [message_codec.to_frame(done)])
    assert supervisor.lost(child) == [TaskFinished(7, done)]
    assert 7 not in supervisor.tries
