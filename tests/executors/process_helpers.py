"""Waiting on an executor and looking at processes, for the executor tests."""

from __future__ import annotations

import time
from typing import Any

from tradewind.executors.base import Event, TaskDied, TaskFinished


def wait_for(
    executor: Any, predicate: Any, timeout: float = 20.0, step: float = 0.1
) -> list[Event]:
    """Events from ``executor.wait`` until ``predicate(events)`` holds (fails after ``timeout``)."""
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    while not predicate(events):
        assert time.monotonic() < deadline, f"timed out; events so far: {events}"
        got, _ = executor.wait(step, [])
        executor.answer_requests()
        events.extend(got)
    return events


def tries_ended(events: list[Event], count: int = 1) -> bool:
    """At least ``count`` tries finished or died among ``events``."""
    return sum(isinstance(e, (TaskFinished, TaskDied)) for e in events) >= count


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def alive(pid: int) -> bool:
    """Running (a zombie, which nobody may reap here, counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
