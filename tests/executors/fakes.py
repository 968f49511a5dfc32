"""Executors that start no process, for tests that are about the scheduler. Each passes the
executor contract (``tests/executors/contract``), so what a test learns with one holds for
the real executor."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tradewind.executors.base import (
    BaseExecutor,
    Event,
    RequestHandler,
    TaskDied,
    TaskFinished,
    TaskStarted,
)
from tradewind.runner import xcom_codec
from tradewind.runner.messages import TaskDone, XComGet
from tradewind.runner.workload import CallbackWorkload, TaskWorkload
from tradewind.sdk import timezone

#: What a scripted try does: ``"success"``, ``"failed"`` (its task raises), ``"block"`` (runs
#: until stopped), ``"asks"`` (pulls the XCom ``return_value`` of task ``source`` and returns it
#: plus one), ``"timeout"`` (runs past its ``execution_timeout``).
Script = Callable[[TaskWorkload], str]

#: The pid a scripted try reports.
PID = 4242


class _Try:
    def __init__(self, workload: TaskWorkload, action: str, done_at: float) -> None:
        self.workload = workload
        self.action = action
        self.done_at = done_at
        self.started = timezone.utcnow()
        self.answer: Any = None
        self.stop_reason: str | None = None


class ScriptedExecutor(BaseExecutor):
    """Starts nothing: a try reports started at once, then finishes after ``run_for`` seconds
    as its ``script`` says (success by default); between, every ``wait`` returns early with
    nothing, as the executor does when a launcher reply or a reaped process wakes it.
    ``terminate`` and ``end`` stop a try as SIGTERM would (its task fails), its
    ``execution_timeout`` ends it the same way, ``lose`` makes its process vanish."""

    parallelism = 8

    def __init__(self, run_for: float = 0.3, script: Script | None = None) -> None:
        self.run_for = run_for
        self.script = script or (lambda workload: "success")
        self.running: dict[int, _Try] = {}
        self.fresh: list[int] = []
        self.launched: list[str] = []
        self.handler: RequestHandler | None = None
        self._questions: list[_Try] = []
        self._events: list[Event] = []

    def start(self, request_handler: Any, *, private_fds: Any = (), home: Any = None) -> None:
        self.handler = request_handler

    def launch(self, workload: TaskWorkload) -> None:
        action = self.script(workload)
        run = self.run_for
        if action == "block":
            run = float("inf")
        if action == "timeout" and workload.execution_timeout:
            run = workload.execution_timeout
        entry = _Try(workload, action, time.monotonic() + run)
        self.running[workload.ti_id] = entry
        self.fresh.append(workload.ti_id)
        self.launched.append(workload.task_id)
        if action == "asks":
            entry.done_at = float("inf")  # until its question is answered
            self._questions.append(entry)

    def launch_callback(self, workload: CallbackWorkload) -> None:
        pass

    @property
    def open_slots(self) -> int:
        return self.parallelism - len(self.running)

    @property
    def running_ti_ids(self) -> set[int]:
        return set(self.running)

    def wait(self, timeout: float | None, extra_fds: list[Any]) -> tuple[list[Event], list[Any]]:
        now = timezone.utcnow()
        events, self._events = self._events, []
        events.extend(TaskStarted(ti_id, PID, "here", now) for ti_id in self.fresh)
        self.fresh = []
        for ti_id, entry in list(self.running.items()):
            if time.monotonic() >= entry.done_at:
                del self.running[ti_id]
                events.append(self._finished(entry))
        if not events:
            time.sleep(min(0.005, timeout or 0))
        return events, []

    def answer_requests(self) -> int:
        asked, self._questions = self._questions, []
        for entry in asked:
            w = entry.workload
            request = XComGet(w.dag_id, w.run_id, "source", -1, "return_value")
            reply = self.handler(request.as_fields()) if self.handler else {"error": "none"}
            entry.answer = xcom_codec.decode(reply["value"]) + 1 if "value" in reply else None
            entry.done_at = time.monotonic()
        return len(asked)

    def terminate(self, ti_id: int) -> None:
        entry = self.running.get(ti_id)
        if entry is not None and entry.stop_reason is None:
            entry.stop_reason = "the task process received SIGTERM"
            entry.done_at = time.monotonic()

    def lose(self, ti_id: int) -> None:
        """Its process vanished (SIGKILL): reported as having died without an outcome."""
        if self.running.pop(ti_id, None) is not None:
            self._events.append(
                TaskDied(ti_id, "the task process was killed by SIGKILL without reporting")
            )

    def end(self, grace: float | None = None) -> list[Event]:
        events, self._events = self._events, []
        for entry in self.running.values():
            entry.stop_reason = entry.stop_reason or "the task process received SIGTERM"
            events.append(self._finished(entry))
        self.running.clear()
        self._questions.clear()
        return events

    def _finished(self, entry: _Try) -> TaskFinished:
        w = entry.workload
        state, error, xcoms = "success", None, [["return_value", '"v"']]
        if entry.stop_reason is not None or entry.action in ("failed", "timeout"):
            # As a task process whose task raised: retried while it has tries left.
            state = "up_for_retry" if w.try_number <= w.max_tries else "failed"
            error = entry.stop_reason or (
                "task timed out" if entry.action == "timeout" else "the task raised"
            )
            xcoms = []
        elif entry.action == "asks":
            xcoms = [["return_value", xcom_codec.encode(entry.answer)]]
        now = timezone.utcnow().isoformat()
        return TaskFinished(
            w.ti_id,
            TaskDone(
                w.ti_id, w.try_number, state, entry.started.isoformat(), now, error, xcoms=xcoms
            ),
        )
