"""``LocalExecutor``: each try in its own OS process, forked from the warm scheduler process.

Forking costs about a millisecond: the child already has Tradewind imported. The child never
uses the parent's database connections (engines are disposed in the child at fork) nor its
other file descriptors (sockets of other children, the scheduler's wake-up socket); it talks
to the parent over a socket pair. The parent notices a child's end from its pidfd (Linux) or
the end of its socket, so a task killed with SIGKILL is reported at once. The parent enforces
``execution_timeout`` as a backstop to the child's own alarm, by killing the process group.

DAG callbacks run the same way (``launch_callback``), outside ``parallelism``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import selectors
import signal
import socket
import time
from collections.abc import Sequence
from typing import Any

from tradewind.executors.base import BaseExecutor, Event, RequestHandler, TaskDied, TaskFinished, TaskStarted
from tradewind.executors.workload import CallbackWorkload, TaskWorkload
from tradewind.runner import callback_process, task_process
from tradewind.runner.protocol import ChannelClosed, LineChannel
from tradewind.sdk import templating, timezone

log = logging.getLogger("tradewind.executor")

#: Seconds after ``execution_timeout`` before the parent kills a task whose own alarm did not end it.
HARD_TIMEOUT_GRACE = 10.0
#: Seconds between SIGTERM and SIGKILL when a process is stopped.
KILL_GRACE = 5.0
#: Seconds a DAG callback may run before it is killed.
CALLBACK_TIMEOUT = 300.0

_CHANNEL = "channel"
_EXIT = "exit"


@dataclasses.dataclass(eq=False)
class _Child:
    pid: int
    channel: LineChannel
    started: float
    workload: TaskWorkload | None = None
    callback: CallbackWorkload | None = None
    pidfd: int | None = None
    finished: bool = False
    kill_at: float | None = None
    terminate_at: float | None = None
    closed: bool = False

    def describe(self) -> str:
        if self.workload is not None:
            return self.workload.describe()
        assert self.callback is not None
        return self.callback.describe()


def _open_pidfd(pid: int) -> int | None:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError:
        return None


class LocalExecutor(BaseExecutor):
    """``parallelism`` tries at once; ``timeout_grace`` seconds past ``execution_timeout`` before
    the parent terminates a task whose own alarm did not end it; ``kill_grace`` seconds between
    SIGTERM and SIGKILL."""

    def __init__(self, parallelism: int = 32, *, timeout_grace: float = HARD_TIMEOUT_GRACE,
                 kill_grace: float = KILL_GRACE) -> None:
        self.parallelism = max(1, parallelism)
        self.timeout_grace = timeout_grace
        self.kill_grace = kill_grace
        self._children: dict[int, _Child] = {}
        self._callbacks: dict[int, _Child] = {}
        self._selector = selectors.DefaultSelector()
        self._handler: RequestHandler | None = None
        self._private_fds: list[Any] = []
        self._hostname = socket.gethostname()
        self._pending_events: list[Event] = []

    def start(self, request_handler: RequestHandler, *, private_fds: Sequence[Any] = ()) -> None:
        self._handler = request_handler
        self._private_fds = list(private_fds)
        templating.preload()

    @property
    def open_slots(self) -> int:
        return self.parallelism - len(self._children)

    @property
    def running_ti_ids(self) -> set[int]:
        return set(self._children)

    @property
    def running_callbacks(self) -> int:
        return len(self._callbacks)

    # -- starting processes -----------------------------------------------------------------
    def _fork(self, target: Any, workload: Any) -> tuple[int, socket.socket]:
        parent_sock, child_sock = socket.socketpair()
        parent_pid = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            try:
                os.setpgid(0, 0)
                parent_sock.close()
                self._close_inherited()
                target(workload, LineChannel(child_sock), parent_pid=parent_pid)
            finally:
                os._exit(1)
        try:
            os.setpgid(pid, pid)  # also here, so a kill right after the fork reaches the group
        except OSError:
            pass
        child_sock.close()
        parent_sock.setblocking(False)
        return pid, parent_sock

    def _close_inherited(self) -> None:
        """In a new child: drop the parent's descriptors it has no business holding."""
        try:
            self._selector.close()
        except OSError:
            pass
        for child in [*self._children.values(), *self._callbacks.values()]:
            child.channel.close()
            if child.pidfd is not None:
                try:
                    os.close(child.pidfd)
                except OSError:
                    pass
        for fd in self._private_fds:
            try:
                fd.close()
            except OSError:
                pass

    def _register(self, child: _Child) -> None:
        self._selector.register(child.channel.sock, selectors.EVENT_READ, (_CHANNEL, child))
        child.pidfd = _open_pidfd(child.pid)
        if child.pidfd is not None:
            self._selector.register(child.pidfd, selectors.EVENT_READ, (_EXIT, child))

    def launch(self, workload: TaskWorkload) -> None:
        pid, sock = self._fork(task_process.run, workload)
        child = _Child(pid, LineChannel(sock), time.monotonic(), workload=workload)
        if workload.execution_timeout:
            child.terminate_at = child.started + workload.execution_timeout + self.timeout_grace
        self._children[workload.ti_id] = child
        self._register(child)
        self._pending_events.append(TaskStarted(workload.ti_id, pid, self._hostname, timezone.utcnow()))

    def launch_callback(self, workload: CallbackWorkload) -> None:
        pid, sock = self._fork(callback_process.run, workload)
        child = _Child(pid, LineChannel(sock), time.monotonic(), callback=workload)
        child.terminate_at = child.started + CALLBACK_TIMEOUT
        self._callbacks[pid] = child
        self._register(child)
        log.info("Started %s in process %d", workload.describe(), pid)

    # -- waiting ----------------------------------------------------------------------------
    def wait(self, timeout: float | None, extra_fds: list[Any]) -> tuple[list[Event], list[Any]]:
        events = self._pending_events
        self._pending_events = []
        extra_keys = []
        for fd in extra_fds:
            extra_keys.append(self._selector.register(fd, selectors.EVENT_READ, None))
        try:
            if events:
                timeout = 0
            if any(child.closed and child.pidfd is None for child in self._all_children()):
                timeout = 0.002 if timeout is None else min(timeout, 0.002)
            deadline = self._next_deadline()
            if deadline is not None:
                remaining = max(0.0, deadline - time.monotonic())
                timeout = remaining if timeout is None else min(timeout, remaining)
            ready = self._selector.select(timeout)
        finally:
            for key in extra_keys:
                self._selector.unregister(key.fileobj)
        readable_extra = []
        exited: list[_Child] = []
        for key, _mask in ready:
            if key.data is None:
                readable_extra.append(key.fileobj)
                continue
            kind, child = key.data
            if kind == _EXIT:
                exited.append(child)
            elif not child.closed:
                events.extend(self._on_readable(child))
        for child in exited:
            events.extend(self._on_exit(child))
        for child in [c for c in self._all_children() if c.closed and c.pidfd is None]:
            events.extend(self._try_reap(child))
        self._enforce_timeouts()
        return events, readable_extra

    def _all_children(self) -> list[_Child]:
        return [*self._children.values(), *self._callbacks.values()]

    def _handle(self, child: _Child, messages: list[dict[str, Any]]) -> list[Event]:
        events: list[Event] = []
        for message in messages:
            op = message.get("op")
            if op == "done":
                if child.workload is not None and not child.finished:
                    child.finished = True
                    events.append(TaskFinished(child.workload.ti_id, message))
                continue
            if self._handler is None:
                reply: dict[str, Any] = {"error": "no request handler"}
            else:
                try:
                    reply = self._handler(message)
                except Exception as exc:  # a failed lookup must not take the scheduler down
                    log.exception("Answering %r for %s failed", op, child.describe())
                    reply = {"error": f"{type(exc).__name__}: {exc}"}
            if child.closed:
                continue
            try:
                child.channel.send(reply)
            except ChannelClosed:
                pass
        return events

    def _on_readable(self, child: _Child) -> list[Event]:
        try:
            messages = child.channel.receive_available()
        except (ChannelClosed, ValueError):
            self._close_channel(child)
            return self._try_reap(child) if child.pidfd is None else []
        return self._handle(child, messages)

    def _close_channel(self, child: _Child) -> None:
        if child.closed:
            return
        child.closed = True
        try:
            self._selector.unregister(child.channel.sock)
        except (KeyError, ValueError):
            pass
        child.channel.close()

    def _on_exit(self, child: _Child) -> list[Event]:
        """The process ended (its pidfd is readable): read what it sent last, then reap it."""
        events: list[Event] = []
        if not child.closed:
            try:
                messages, _eof = child.channel.drain()
            except ValueError:
                messages = []
            events.extend(self._handle(child, messages))
            self._close_channel(child)
        try:
            _pid, status = os.waitpid(child.pid, 0)
        except ChildProcessError:
            status = None
        events.extend(self._finalize(child, status))
        return events

    def _try_reap(self, child: _Child) -> list[Event]:
        """Without a pidfd: collect the exit status if the process is gone."""
        try:
            done, status = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:
            done, status = child.pid, None  # type: ignore[assignment]
        if not done:
            return []
        return self._finalize(child, status)

    def _finalize(self, child: _Child, status: int | None) -> list[Event]:
        self._close_channel(child)
        if child.pidfd is not None:
            try:
                self._selector.unregister(child.pidfd)
            except (KeyError, ValueError):
                pass
            try:
                os.close(child.pidfd)
            except OSError:
                pass
            child.pidfd = None
        if child.workload is not None:
            self._children.pop(child.workload.ti_id, None)
            if child.finished:
                return []
            return [TaskDied(child.workload.ti_id, describe_status(status))]
        self._callbacks.pop(child.pid, None)
        if status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            log.info("%s finished", child.describe())
        else:
            log.warning("%s failed (%s); see %s", child.describe(), _exit_text(status),
                        child.callback.log_path if child.callback else "its log")
        return []

    # -- stopping ---------------------------------------------------------------------------
    def _next_deadline(self) -> float | None:
        deadlines = []
        for child in self._all_children():
            if child.kill_at is not None:
                deadlines.append(child.kill_at)
            elif child.terminate_at is not None:
                deadlines.append(child.terminate_at)
        return min(deadlines, default=None)

    def _enforce_timeouts(self) -> None:
        now = time.monotonic()
        for child in self._all_children():
            if child.kill_at is not None:
                if now >= child.kill_at:
                    log.warning("%s did not stop after SIGTERM: killing it", child.describe())
                    kill_group(child.pid, signal.SIGKILL)
                    child.kill_at = None
                    child.terminate_at = None
            elif child.terminate_at is not None and now >= child.terminate_at:
                log.warning("%s ran past its time limit: terminating it", child.describe())
                kill_group(child.pid, signal.SIGTERM)
                child.kill_at = now + self.kill_grace

    def terminate(self, ti_id: int) -> None:
        child = self._children.get(ti_id)
        if child is None or child.kill_at is not None:
            return
        kill_group(child.pid, signal.SIGTERM)
        child.kill_at = time.monotonic() + self.kill_grace

    def end(self, grace: float | None = None) -> list[Event]:
        grace = self.kill_grace if grace is None else grace
        for child in self._all_children():
            kill_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        events: list[Event] = list(self._pending_events)
        self._pending_events = []
        while self._all_children() and time.monotonic() < deadline:
            got, _ = self.wait(min(0.1, max(0.0, deadline - time.monotonic())), [])
            events.extend(got)
        for child in self._all_children():
            kill_group(child.pid, signal.SIGKILL)
            events.extend(self._on_exit(child))
        self._selector.close()
        self._selector = selectors.DefaultSelector()
        return events


def kill_group(pid: int, sig: int) -> None:
    """Signal the process group of ``pid`` (the task and what it started), or just ``pid``."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _exit_text(status: int | None) -> str:
    if status is None:
        return "exit status unknown"
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.WEXITSTATUS(status)}"


def describe_status(status: int | None) -> str:
    if status is None:
        return "the task process ended without reporting"
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return f"the task process was killed by {name} without reporting an outcome"
    return f"the task process exited with code {os.WEXITSTATUS(status)} without reporting an outcome"
