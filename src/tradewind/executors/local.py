"""``LocalExecutor``: each try in its own OS process, forked from a warm process.

A try is forked by the warm launcher of its DAG version (``executors.launchers``): a process
that has loaded the version's source once, so the try starts with Tradewind imported and its
DAG built. Launchers are forked by the fork server (``runner.fork_server``), a lean interpreter
started once, or from this process while that is not ready (``executors.local_launchers``).
Where launchers are not available, or one could not load the source, the try is forked from
this process directly and loads the source itself.

Either way the child never uses the parent's database connections nor its other file
descriptors (they point at /dev/null in the child); it talks to this process over a socket
pair. The end of a try is noticed from its pidfd (direct children) or its launcher's report
(which reaps it and sends the exit status), so a task killed with SIGKILL is reported at
once. This process enforces ``execution_timeout`` as a backstop to the child's own alarm, by
killing the process group.

**Tries outlive their supervisors.** The fork server and the launchers die with this process;
the tries do not (``runner.beacons``). A try whose launcher died goes on talking over its
channel and is watched through a pidfd. A try whose scheduler died goes on alone, writes its
outcome file, and is adopted by the next executor of the same home (``adopt``, decided by the
scheduler's recovery from ``orphans``): watched through a pidfd, its outcome read from its
file, its questions answered once it reconnects to the home's supervisor socket, which this
executor holds (``executors.local_adoption``). Only ``terminate`` and ``end`` stop a try.

DAG callbacks are forked directly (``launch_callback``), outside ``parallelism``; they still
die with this process (a callback cut short runs again, see ``scheduler.job``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import selectors
import signal
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tradewind.executors import fork_server_client, supervision
from tradewind.executors.base import (
    BaseExecutor,
    Event,
    RequestHandler,
    TaskDied,
    TaskFinished,
    TaskStarted,
)
from tradewind.executors.children import (
    CHANNEL,
    EXIT,
    Child,
    ChildKind,
    describe_status,
    exit_text,
    kill_group,
    open_pidfd,
    redirect_inherited_fds,
    signal_through_pidfd,
)
from tradewind.executors.fork_server_client import ForkServer
from tradewind.executors.launchers import Launcher, LauncherPool
from tradewind.executors.local_adoption import HELLO, SUPERVISOR, AdoptionSide
from tradewind.executors.local_launchers import CONTROL, FORK_SERVER, LAUNCHER_EXIT, LauncherSide
from tradewind.runner import beacons, callback_process, outcome_files, parent_death, task_process
from tradewind.runner.protocol import ChannelClosed, LineChannel
from tradewind.runner.workload import CallbackWorkload, TaskWorkload
from tradewind.sdk import templating, timezone

log = logging.getLogger("tradewind.executor")

#: Seconds after ``execution_timeout`` before the
#: parent kills a task whose own alarm did not end it.
HARD_TIMEOUT_GRACE = 10.0
#: Seconds between SIGTERM and SIGKILL when a process is stopped.
KILL_GRACE = 5.0
#: Seconds a DAG callback may run before it is killed.
CALLBACK_TIMEOUT = 300.0

#: Seconds to wait for launchers' reports of tries killed at the end.
END_REPORT_WAIT = 2.0

#: ``_on_exit`` without a status: wait for the (direct) child and read it.
_WAIT = object()


class LocalExecutor(LauncherSide, AdoptionSide, BaseExecutor):
    """``parallelism`` tries at once; ``timeout_grace`` seconds past ``execution_timeout`` before
    the parent terminates a task whose own alarm did not end it; ``kill_grace`` seconds between
    SIGTERM and SIGKILL."""

    def __init__(
        self,
        parallelism: int = 32,
        *,
        timeout_grace: float = HARD_TIMEOUT_GRACE,
        kill_grace: float = KILL_GRACE,
        launchers: LauncherPool | None = None,
        fork_server: bool | None = None,
    ) -> None:
        self.parallelism = max(1, parallelism)
        self.launchers = launchers if launchers is not None else LauncherPool()
        if fork_server is None:
            fork_server = fork_server_client.supported()
        self._fork_server = ForkServer() if fork_server and self.launchers.enabled else None
        self._fork_server_sock: Any = None
        self.timeout_grace = timeout_grace
        self.kill_grace = kill_grace
        self._children: dict[int, Child] = {}
        self._callbacks: dict[int, Child] = {}
        self._guests: set[Child] = set()
        self._released: set[Child] = set()
        self._hellos: set[supervision.PendingHello] = set()
        self._ended_callbacks: list[tuple[str, str]] = []
        self._selector = selectors.DefaultSelector()
        self._handler: RequestHandler | None = None
        self._private_fds: list[Any] = []
        self._hostname = socket.gethostname()
        self._pending_events: list[Event] = []
        self._ending = False
        self._home_key: str | None = None
        self._supervisor: supervision.SupervisorSocket | None = None

    def start(
        self,
        request_handler: RequestHandler,
        *,
        private_fds: Sequence[Any] = (),
        home: Path | None = None,
    ) -> None:
        self._handler = request_handler
        self._private_fds = list(private_fds)
        templating.preload()
        parent_death.preload()
        if home is not None and beacons.supported() and hasattr(os, "pidfd_open"):
            self._home_key = beacons.home_key(home)
            self._supervisor = supervision.SupervisorSocket(self._home_key)
            self._listen()

    @property
    def open_slots(self) -> int:
        return self.parallelism - len(self._children)

    @property
    def fork_server(self) -> ForkServer | None:
        """The fork server launchers come from (None: launchers are forked here)."""
        return self._fork_server

    @property
    def running_ti_ids(self) -> set[int]:
        return set(self._children)

    @property
    def running_callbacks(self) -> int:
        return len(self._callbacks)

    @property
    def running_callback_runs(self) -> set[tuple[str, str]]:
        return {
            (c.callback.dag_id, c.callback.run_id)
            for c in self._callbacks.values()
            if c.callback is not None
        }

    def take_ended_callbacks(self) -> list[tuple[str, str]]:
        ended, self._ended_callbacks = self._ended_callbacks, []
        return ended

    # -- starting processes -----------------------------------------------------------------
    def _fork(self, run_child: Callable[[LineChannel], Any]) -> tuple[int, socket.socket]:
        parent_sock, child_sock = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            try:
                os.setpgid(0, 0)
                parent_sock.close()
                self._close_inherited(keep=child_sock.fileno())
                run_child(LineChannel(child_sock))
            finally:
                os._exit(1)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # also here, so a kill right after the fork reaches the group
        child_sock.close()
        parent_sock.setblocking(False)
        return pid, parent_sock

    def _close_inherited(self, *, keep: int) -> None:
        """In a new child: drop the parent's descriptors it has no business holding."""
        with contextlib.suppress(OSError):
            self._selector.close()
        for child in self._watched():
            if child.channel is not None:
                child.channel.close()
            if child.pidfd is not None:
                with contextlib.suppress(OSError):
                    os.close(child.pidfd)
        for launcher in self.launchers:
            launcher.close_in_child()
        if self._fork_server is not None:
            self._fork_server.close_in_child()
        if self._supervisor is not None:
            self._supervisor.close()
        for hello in self._hellos:
            hello.channel.close()
        for fd in self._private_fds:
            with contextlib.suppress(OSError):
                fd.close()
        redirect_inherited_fds({keep})

    def _watched(self) -> list[Child]:
        return [*self._children.values(), *self._callbacks.values(), *self._guests, *self._released]

    def _register(self, child: Child) -> None:
        assert child.channel is not None and child.pid is not None
        self._selector.register(child.channel.sock, selectors.EVENT_READ, (CHANNEL, child))
        child.pidfd = open_pidfd(child.pid)
        if child.pidfd is not None:
            self._selector.register(child.pidfd, selectors.EVENT_READ, (EXIT, child))

    def launch(self, workload: TaskWorkload) -> None:
        try:
            launcher = self.launchers.for_workload(workload, self._spawn_launcher)
        except OSError:  # no launcher can start here (no pidfds, no processes left): fork directly
            log.exception("Could not start a warm launcher; tries are forked directly from now on")
            self.launchers.enabled = False
            launcher = None
        if launcher is None or not self._launch_via(launcher, workload):
            self._launch_direct(workload)

    def _launch_direct(self, workload: TaskWorkload, started: float | None = None) -> None:
        home_key = self._home_key
        pid, sock = self._fork(
            lambda channel: task_process.run(workload, channel, home_key=home_key)
        )
        child = Child.for_try(
            ChildKind.DIRECT,
            pid,
            LineChannel(sock),
            time.monotonic() if started is None else started,
            workload,
        )
        self._set_time_limit(child)
        self._children[workload.ti_id] = child
        self._register(child)
        self._pending_events.append(
            TaskStarted(workload.ti_id, pid, self._hostname, timezone.utcnow())
        )

    def _set_time_limit(self, child: Child) -> None:
        if child.workload is not None and child.workload.execution_timeout:
            child.terminate_at = (
                child.started + child.workload.execution_timeout + self.timeout_grace
            )

    def launch_callback(self, workload: CallbackWorkload) -> None:
        parent_pid = os.getpid()
        pid, sock = self._fork(
            lambda channel: callback_process.run(workload, channel, parent_pid=parent_pid)
        )
        child = Child(ChildKind.DIRECT, pid, LineChannel(sock), time.monotonic(), callback=workload)
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
            if any(
                self._needs_polling(child) for child in [*self._all_children(), *self._released]
            ):
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
        exited: list[Child] = []
        launchers_gone: list[Launcher] = []
        # Launchers first: a try's "started" comes before what the try itself sent.
        for key, _mask in sorted(
            ready, key=lambda item: item[0].data is None or item[0].data[0] != CONTROL
        ):
            if key.data is None:
                readable_extra.append(key.fileobj)
                continue
            kind, item = key.data
            if kind == CONTROL:
                if not item.stopping and not item.gone:
                    events.extend(self._on_launcher_readable(item))
            elif kind == LAUNCHER_EXIT:
                if not item.gone:
                    launchers_gone.append(item)
            elif kind == FORK_SERVER:
                self._on_fork_server_readable(item)
            elif kind == EXIT:
                exited.append(item)
            elif kind == SUPERVISOR:
                for hello in item.accept_all():
                    self._hellos.add(hello)
                    self._selector.register(
                        hello.channel.sock, selectors.EVENT_READ, (HELLO, hello)
                    )
            elif kind == HELLO:
                if item in self._hellos:
                    self._on_hello(item)
            elif item.channel is not None:
                events.extend(self._on_readable(item))
        for child in exited:
            events.extend(self._on_exit(child))
        for launcher in launchers_gone:
            events.extend(self._on_launcher_exit(launcher))
        for child in [
            c for c in [*self._all_children(), *self._released] if self._needs_polling(c)
        ]:
            events.extend(self._try_reap(child))
        self._enforce_timeouts()
        if self._hellos:
            self._expire_hellos()
        for launcher in self.launchers.to_stop():
            self._stop_launcher(launcher)
        return events, readable_extra

    @staticmethod
    def _needs_polling(child: Child) -> bool:
        """A direct child without a pidfd whose channel closed: reaped by polling."""
        return child.kind is ChildKind.DIRECT and child.closed and child.pidfd is None

    def _all_children(self) -> list[Child]:
        return [*self._children.values(), *self._callbacks.values()]

    # -- a process's messages and end ---------------------------------------------------------
    def _handle(self, child: Child, messages: list[dict[str, Any]]) -> list[Event]:
        events: list[Event] = []
        if messages:
            child.heard = True
        for message in messages:
            op = message.get("op")
            if op == "done":
                if child.is_try and not child.finished and not child.released:
                    child.finished = True
                    assert child.ti_id is not None
                    events.append(TaskFinished(child.ti_id, message))
                continue
            if self._handler is None:
                reply: dict[str, Any] = {"error": "no request handler"}
            else:
                try:
                    reply = self._handler(message)
                except Exception as exc:  # a failed lookup must not take the scheduler down
                    log.exception("Answering %r for %s failed", op, child.describe())
                    reply = {"error": f"{type(exc).__name__}: {exc}"}
            if child.channel is None:
                continue
            with contextlib.suppress(ChannelClosed):
                child.channel.send(reply)
        return events

    def _on_readable(self, child: Child) -> list[Event]:
        assert child.channel is not None
        try:
            messages = child.channel.receive_available()
        except (ChannelClosed, ValueError):
            self._close_channel(child)
            if child.kind is ChildKind.DIRECT:
                return self._try_reap(child) if child.pidfd is None else []
            if child.kind is ChildKind.LAUNCHED:  # its launcher reports the exit
                return []
            if child.kind is ChildKind.GUEST:
                return self._finalize(child, None)
            if child.pid is None:  # sent to a launcher that died before it said it forked it
                return self._lost_before_start(child)
            if (
                child.pidfd is None
            ):  # an orphan whose beacon was not found: the channel tells its end
                return self._finalize(child, None)
            return []  # adopted or orphaned: its pidfd tells when it ends
        return self._handle(child, messages)

    def _close_channel(self, child: Child) -> None:
        if child.channel is None:
            return
        self._unregister(child.channel.sock)
        child.channel.close()
        child.channel = None

    def _unregister(self, fileobj: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(fileobj)

    def _on_exit(self, child: Child, status: Any = _WAIT) -> list[Event]:
        """The process ended (its pidfd is readable, or its launcher reaped it with ``status``):
        read what it sent last, then reap it (a direct child) and settle it."""
        if child.ended:
            return []
        events: list[Event] = []
        if child.channel is not None:
            try:
                messages, _eof = child.channel.drain()
            except ValueError:
                messages = []
            events.extend(self._handle(child, messages))
            self._close_channel(child)
        if status is _WAIT:
            status = None
            if child.kind is ChildKind.DIRECT:
                assert child.pid is not None
                try:
                    _pid, status = os.waitpid(child.pid, 0)
                except ChildProcessError:
                    status = None
        events.extend(self._finalize(child, status))
        return events

    def _try_reap(self, child: Child) -> list[Event]:
        """Without a pidfd: collect the exit status if the process is gone."""
        assert child.pid is not None
        try:
            done, status = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:
            done, status = child.pid, None
        if not done:
            return []
        return self._finalize(child, status)

    def _finalize(
        self, child: Child, status: int | None, *, reason: str | None = None
    ) -> list[Event]:
        if child.ended:
            return []
        child.ended = True
        self._close_channel(child)
        if child.pidfd is not None:
            self._unregister(child.pidfd)
            with contextlib.suppress(OSError):
                os.close(child.pidfd)
            child.pidfd = None
        if child.released:
            self._released.discard(child)
            return []
        if child.kind is ChildKind.GUEST:
            self._guests.discard(child)
            return []
        if child.is_try:
            assert child.ti_id is not None
            self._children.pop(child.ti_id, None)
            if child.finished:
                return []
            message = outcome_files.read(child.outcome_path, child.ti_id, child.try_number)
            if message is not None:  # it could not tell us, but left its outcome behind
                return [TaskFinished(child.ti_id, message)]
            if reason is None:
                reason = describe_status(status)
                if status is None and child.kind in (ChildKind.ADOPTED, ChildKind.ORPHANED):
                    reason += f" (it was {child.kind.value}, so its exit status is unknown)"
            return [TaskDied(child.ti_id, reason)]
        if child.pid is not None:
            self._callbacks.pop(child.pid, None)
        if child.callback is not None and not self._ending:
            self._ended_callbacks.append((child.callback.dag_id, child.callback.run_id))
        if status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            log.info("%s finished", child.describe())
        else:
            log.warning(
                "%s failed (%s); see %s",
                child.describe(),
                exit_text(status),
                child.callback.log_path if child.callback else "its log",
            )
        return []

    # -- stopping ---------------------------------------------------------------------------
    def _next_deadline(self) -> float | None:
        deadlines = []
        for child in self._all_children():
            if child.kill_at is not None:
                deadlines.append(child.kill_at)
            elif child.terminate_at is not None:
                deadlines.append(child.terminate_at)
        for hello in self._hellos:
            deadlines.append(hello.deadline)
        return min(deadlines, default=None)

    def _signal(self, child: Child, sig: int) -> None:
        """Signal the try's process group. Before its launcher reported the pid, a SIGTERM waits
        for the pid, and a SIGKILL goes to the launcher, which has stopped answering."""
        if child.pid is not None:
            if child.pidfd is not None and child.kind in (ChildKind.ADOPTED, ChildKind.ORPHANED):
                signal_through_pidfd(child.pidfd, child.pid, sig)
            else:
                kill_group(child.pid, sig)
        elif sig == signal.SIGTERM:
            child.term_pending = True
        elif child.launcher is not None:
            log.warning(
                "%s did not start %s in time: killing it",
                child.launcher.describe(),
                child.describe(),
            )
            child.launcher.kill()

    def _enforce_timeouts(self) -> None:
        now = time.monotonic()
        for child in self._all_children():
            if child.kill_at is not None:
                if now >= child.kill_at:
                    log.warning("%s did not stop after SIGTERM: killing it", child.describe())
                    self._signal(child, signal.SIGKILL)
                    child.kill_at = None
                    child.terminate_at = None
            elif child.terminate_at is not None and now >= child.terminate_at:
                log.warning("%s ran past its time limit: terminating it", child.describe())
                self._signal(child, signal.SIGTERM)
                child.kill_at = now + self.kill_grace

    def terminate(self, ti_id: int) -> None:
        child = self._children.get(ti_id)
        if child is None or child.kill_at is not None:
            return
        self._signal(child, signal.SIGTERM)
        child.kill_at = time.monotonic() + self.kill_grace

    def end(self, grace: float | None = None) -> list[Event]:
        grace = self.kill_grace if grace is None else grace
        self._ending = True
        for child in self._all_children():
            self._signal(child, signal.SIGTERM)
        deadline = time.monotonic() + grace
        events: list[Event] = list(self._pending_events)
        self._pending_events = []
        while self._all_children() and time.monotonic() < deadline:
            got, _ = self.wait(min(0.1, max(0.0, deadline - time.monotonic())), [])
            events.extend(got)
        for child in self._all_children():
            if child.pid is not None:
                self._signal(child, signal.SIGKILL)
        for child in [c for c in self._all_children() if c.kind is ChildKind.DIRECT]:
            events.extend(self._on_exit(child))
        # Launchers report the ends of the tries they forked, pidfds those of the others.
        deadline = time.monotonic() + END_REPORT_WAIT
        while (
            any(c.launcher is not None or c.pidfd is not None for c in self._all_children())
            and time.monotonic() < deadline
        ):
            got, _ = self.wait(0.05, [])
            events.extend(got)
        stopping = [launcher for launcher in self.launchers if not launcher.gone]
        for launcher in stopping:
            launcher.kill()
        deadline = time.monotonic() + END_REPORT_WAIT
        for launcher in stopping:  # gone before this returns, so nothing of ours outlives ``end``
            select.select([launcher.pidfd], [], [], max(0.0, deadline - time.monotonic()))
            events.extend(self._on_launcher_exit(launcher))
        self._stop_fork_server()
        for child in [
            *self._all_children(),
            *self._guests,
            *self._released,
        ]:  # those whose end did not show
            events.extend(self._finalize(child, None))
        for hello in self._hellos:
            hello.channel.close()
        self._hellos.clear()
        if self._supervisor is not None:
            self._supervisor.close()
        events.extend(self._pending_events)
        self._pending_events = []
        self._selector.close()
        self._selector = selectors.DefaultSelector()
        self._ending = False
        return events
