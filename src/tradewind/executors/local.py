"""``LocalExecutor``: each try in its own OS process, forked from the warm scheduler process.

Forking costs about a millisecond: the child already has Tradewind imported. The child never
uses the parent's database connections (engines are disposed in the child at fork); it talks
to the parent over a socket pair. The parent enforces ``execution_timeout`` as a backstop to
the child's own alarm, by killing the process group.
"""

from __future__ import annotations

import dataclasses
import os
import selectors
import signal
import socket
import time
from typing import Any

from tradewind.executors.base import BaseExecutor, Event, RequestHandler, TaskDied, TaskFinished, TaskStarted
from tradewind.executors.workload import TaskWorkload
from tradewind.runner import task_process
from tradewind.runner.protocol import ChannelClosed, LineChannel
from tradewind.sdk import templating, timezone

_HARD_TIMEOUT_GRACE = 10.0


@dataclasses.dataclass
class _Child:
    workload: TaskWorkload
    pid: int
    channel: LineChannel
    started: float
    finished: bool = False
    kill_at: float | None = None
    closed: bool = False


class LocalExecutor(BaseExecutor):
    def __init__(self, parallelism: int = 32) -> None:
        self.parallelism = max(1, parallelism)
        self._children: dict[int, _Child] = {}
        self._selector = selectors.DefaultSelector()
        self._handler: RequestHandler | None = None
        self._hostname = socket.gethostname()
        self._pending_events: list[Event] = []

    def start(self, request_handler: RequestHandler) -> None:
        self._handler = request_handler
        templating.preload()

    @property
    def open_slots(self) -> int:
        return self.parallelism - len(self._children)

    @property
    def running_ti_ids(self) -> set[int]:
        return set(self._children)

    def launch(self, workload: TaskWorkload) -> None:
        parent_sock, child_sock = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the task process
            try:
                parent_sock.close()
                self._selector.close()
                os.setpgid(0, 0)
                task_process.run(workload, LineChannel(child_sock))
            finally:
                os._exit(1)
        child_sock.close()
        parent_sock.setblocking(False)
        child = _Child(workload, pid, LineChannel(parent_sock), time.monotonic())
        self._children[workload.ti_id] = child
        self._selector.register(parent_sock, selectors.EVENT_READ, workload.ti_id)
        self._pending_events.append(TaskStarted(workload.ti_id, pid, self._hostname, timezone.utcnow()))

    def wait(self, timeout: float | None, extra_fds: list[Any]) -> tuple[list[Event], list[Any]]:
        events = self._pending_events
        self._pending_events = []
        extra_keys = []
        for fd in extra_fds:
            extra_keys.append(self._selector.register(fd, selectors.EVENT_READ, None))
        try:
            if events:
                timeout = 0
            if any(child.closed for child in self._children.values()):
                timeout = 0.002 if timeout is None else min(timeout, 0.002)
            deadline = self._next_kill_deadline()
            if deadline is not None:
                remaining = max(0.0, deadline - time.monotonic())
                timeout = remaining if timeout is None else min(timeout, remaining)
            ready = self._selector.select(timeout)
        finally:
            for key in extra_keys:
                self._selector.unregister(key.fileobj)
        readable_extra = []
        for key, _mask in ready:
            if key.data is None:
                readable_extra.append(key.fileobj)
            else:
                events.extend(self._on_readable(key.data))
        events.extend(self._reap_closed())
        events.extend(self._enforce_timeouts())
        return events, readable_extra

    def _on_readable(self, ti_id: int) -> list[Event]:
        child = self._children.get(ti_id)
        if child is None:
            return []
        events: list[Event] = []
        try:
            messages = child.channel.receive_available()
        except ChannelClosed:
            events.extend(self._reap(child))
            return events
        for message in messages:
            op = message.get("op")
            if op == "done":
                child.finished = True
                events.append(TaskFinished(ti_id, message))
            elif self._handler is not None:
                try:
                    reply = self._handler(message)
                except Exception as exc:  # a failed lookup must not take the scheduler down
                    reply = {"error": f"{type(exc).__name__}: {exc}"}
                try:
                    child.channel.send(reply)
                except ChannelClosed:
                    pass
        return events

    def _reap(self, child: _Child) -> list[Event]:
        """The child closed its end: collect its exit status now, or at a later wait."""
        if not child.closed:
            self._selector.unregister(child.channel.sock)
            child.channel.close()
            child.closed = True
        try:
            done, status = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:
            done, status = child.pid, None  # type: ignore[assignment]
        if not done:
            return []
        del self._children[child.workload.ti_id]
        if child.finished:
            return []
        return [TaskDied(child.workload.ti_id, _describe_status(status))]

    def _reap_closed(self) -> list[Event]:
        events: list[Event] = []
        for child in [c for c in self._children.values() if c.closed]:
            events.extend(self._reap(child))
        return events

    def _next_kill_deadline(self) -> float | None:
        deadlines = []
        for child in self._children.values():
            if child.kill_at is not None:
                deadlines.append(child.kill_at)
            elif child.workload.execution_timeout:
                deadlines.append(child.started + child.workload.execution_timeout + _HARD_TIMEOUT_GRACE)
        return min(deadlines, default=None)

    def _enforce_timeouts(self) -> list[Event]:
        now = time.monotonic()
        for child in list(self._children.values()):
            limit = child.workload.execution_timeout
            if child.kill_at is not None and now >= child.kill_at:
                _kill_group(child.pid, signal.SIGKILL)
                child.kill_at = None
            elif limit and now > child.started + limit + _HARD_TIMEOUT_GRACE and child.kill_at is None:
                _kill_group(child.pid, signal.SIGTERM)
                child.kill_at = now + 5.0
        return []

    def terminate(self, ti_id: int) -> None:
        child = self._children.get(ti_id)
        if child is None:
            return
        _kill_group(child.pid, signal.SIGTERM)
        child.kill_at = time.monotonic() + 5.0

    def end(self, grace: float = 5.0) -> list[Event]:
        for child in self._children.values():
            _kill_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        events: list[Event] = []
        while self._children and time.monotonic() < deadline:
            got, _ = self.wait(0.1, [])
            events.extend(got)
        for child in list(self._children.values()):
            _kill_group(child.pid, signal.SIGKILL)
            try:
                os.waitpid(child.pid, 0)
            except ChildProcessError:
                pass
            events.extend(self._reap(child))
        return events


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _describe_status(status: int | None) -> str:
    if status is None:
        return "the task process ended without reporting"
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return f"the task process was killed by {name} without reporting an outcome"
    return f"the task process exited with code {os.WEXITSTATUS(status)} without reporting an outcome"
