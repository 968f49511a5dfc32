"""``LocalExecutor``: each try in its own OS process, forked from a warm process.

A try is forked by the warm launcher of its DAG version (``executors.launchers``): a process
that has loaded the version's source once, so the try starts with Tradewind imported and its
DAG built. Launchers are forked by the fork server (``runner.fork_server``), a lean interpreter
started once, or from this process while that is not ready. Where launchers are not available,
or one could not load the source, the try is forked from this process directly and loads the
source itself.

Either way the child never uses the parent's database connections (engines are disposed in
the child at fork) nor its other file descriptors (sockets of other children, the scheduler's
wake-up socket); it talks to this process over a socket pair. The end of a try is noticed from
its pidfd (direct children) or its launcher's report (which reaps it and sends the exit
status), so a task killed with SIGKILL is reported at once. This process enforces
``execution_timeout`` as a backstop to the child's own alarm, by killing the process group.

DAG callbacks are forked directly (``launch_callback``), outside ``parallelism``.
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

from tradewind.executors import fork_server_client
from tradewind.executors.base import BaseExecutor, Event, RequestHandler, TaskDied, TaskFinished, TaskStarted
from tradewind.executors.fork_server_client import ForkServer, ForkServerError
from tradewind.executors.launchers import Launcher, LauncherPool, key_of
from tradewind.runner import callback_process, launcher_process, parent_death, task_process
from tradewind.runner.protocol import ChannelClosed, LineChannel
from tradewind.runner.workload import CallbackWorkload, TaskWorkload
from tradewind.sdk import templating, timezone

log = logging.getLogger("tradewind.executor")

#: Seconds after ``execution_timeout`` before the parent kills a task whose own alarm did not end it.
HARD_TIMEOUT_GRACE = 10.0
#: Seconds between SIGTERM and SIGKILL when a process is stopped.
KILL_GRACE = 5.0
#: Seconds a DAG callback may run before it is killed.
CALLBACK_TIMEOUT = 300.0

#: Seconds to wait for launchers' reports of tries killed at the end.
END_REPORT_WAIT = 2.0

_CHANNEL = "channel"
_EXIT = "exit"
_CONTROL = "control"
_LAUNCHER_EXIT = "launcher-exit"
_FORK_SERVER = "fork-server"
#: ``_on_exit`` without a status: wait for the (direct) child and read it.
_WAIT = object()


@dataclasses.dataclass(eq=False)
class _Child:
    """A task or callback process. ``pid`` is None while its launcher has not reported it
    started; ``launcher`` is set for tries forked by one, None for direct children (and for
    tries whose launcher died: those end when their channel closes)."""

    pid: int | None
    channel: LineChannel
    started: float
    workload: TaskWorkload | None = None
    callback: CallbackWorkload | None = None
    pidfd: int | None = None
    finished: bool = False
    kill_at: float | None = None
    terminate_at: float | None = None
    closed: bool = False
    launcher: Launcher | None = None
    launched: bool = False
    #: SIGTERM asked for before the pid was known: sent when it is.
    term_pending: bool = False

    @property
    def direct(self) -> bool:
        return not self.launched

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
                 kill_grace: float = KILL_GRACE, launchers: LauncherPool | None = None,
                 fork_server: bool | None = None) -> None:
        self.parallelism = max(1, parallelism)
        self.launchers = launchers if launchers is not None else LauncherPool()
        if fork_server is None:
            fork_server = fork_server_client.supported()
        self._fork_server = ForkServer() if fork_server and self.launchers.enabled else None
        self._fork_server_sock: Any = None
        self.timeout_grace = timeout_grace
        self.kill_grace = kill_grace
        self._children: dict[int, _Child] = {}
        self._callbacks: dict[int, _Child] = {}
        self._ended_callbacks: list[tuple[str, str]] = []
        self._selector = selectors.DefaultSelector()
        self._handler: RequestHandler | None = None
        self._private_fds: list[Any] = []
        self._hostname = socket.gethostname()
        self._pending_events: list[Event] = []
        self._ending = False

    def start(self, request_handler: RequestHandler, *, private_fds: Sequence[Any] = ()) -> None:
        self._handler = request_handler
        self._private_fds = list(private_fds)
        templating.preload()
        parent_death.preload()

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
        return {(c.callback.dag_id, c.callback.run_id) for c in self._callbacks.values() if c.callback is not None}

    def take_ended_callbacks(self) -> list[tuple[str, str]]:
        ended, self._ended_callbacks = self._ended_callbacks, []
        return ended

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
        for launcher in self.launchers:
            launcher.close_in_child()
        if self._fork_server is not None:
            self._fork_server.close_in_child()
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
        try:
            launcher = self.launchers.for_workload(workload, self._spawn_launcher)
        except OSError:  # no launcher can start here (no pidfds, no processes left): fork directly
            log.exception("Could not start a warm launcher; tries are forked directly from now on")
            self.launchers.enabled = False
            launcher = None
        if launcher is None or not self._launch_via(launcher, workload):
            self._launch_direct(workload)

    def _launch_direct(self, workload: TaskWorkload, started: float | None = None) -> None:
        pid, sock = self._fork(task_process.run, workload)
        child = _Child(pid, LineChannel(sock), time.monotonic() if started is None else started, workload=workload)
        self._set_time_limit(child)
        self._children[workload.ti_id] = child
        self._register(child)
        self._pending_events.append(TaskStarted(workload.ti_id, pid, self._hostname, timezone.utcnow()))

    def _set_time_limit(self, child: _Child) -> None:
        if child.workload is not None and child.workload.execution_timeout:
            child.terminate_at = child.started + child.workload.execution_timeout + self.timeout_grace

    def _launch_via(self, launcher: Launcher, workload: TaskWorkload) -> bool:
        """Send the try to its launcher; False when it cannot take it (fork it directly then)."""
        parent_sock, child_sock = socket.socketpair()
        try:
            launcher.send_launch(workload, child_sock.fileno())
        except OSError as exc:
            parent_sock.close()
            if not isinstance(exc, BlockingIOError) and "too large" not in str(exc):
                log.warning("%s does not take tries (%s); forking them directly", launcher.describe(), exc)
                self.launchers.note_failed(launcher)
            return False
        finally:
            child_sock.close()
        parent_sock.setblocking(False)
        child = _Child(None, LineChannel(parent_sock), time.monotonic(), workload=workload, launcher=launcher,
                       launched=True)
        self._set_time_limit(child)
        self._children[workload.ti_id] = child
        launcher.pending[workload.ti_id] = child
        self._selector.register(parent_sock, selectors.EVENT_READ, (_CHANNEL, child))
        return True

    def _spawn_launcher(self, workload: TaskWorkload) -> Launcher:
        """A launcher for the workload's DAG version (it loads the source on its own time):
        from the fork server when it is ready, else forked here."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        spawned = self._spawn_from_fork_server(workload, theirs)
        if spawned is not None:
            theirs.close()
            ours.setblocking(False)
            pid, pidfd = spawned
            return self._add_launcher(workload, pid, ours, pidfd, forked_here=False)
        parent_pid = os.getpid()
        pid = os.fork()
        if pid == 0:  # the launcher: never returns
            try:
                ours.close()
                self._close_inherited()
                launcher_process.serve(theirs, workload.fileloc, workload.source_code, workload.dag_id,
                                       parent_pid=parent_pid)
            finally:
                os._exit(1)
        theirs.close()
        ours.setblocking(False)
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            ours.close()  # it exits at the end of its stream
            os.waitpid(pid, 0)
            raise
        return self._add_launcher(workload, pid, ours, pidfd, forked_here=True)

    def _add_launcher(self, workload: TaskWorkload, pid: int, sock: socket.socket, pidfd: int, *,
                      forked_here: bool) -> Launcher:
        now = time.monotonic()
        launcher = Launcher(key=key_of(workload), pid=pid, sock=sock, pidfd=pidfd, created=now,
                            last_used=now, forked_here=forked_here)
        self._selector.register(sock, selectors.EVENT_READ, (_CONTROL, launcher))
        self._selector.register(pidfd, selectors.EVENT_READ, (_LAUNCHER_EXIT, launcher))
        log.info("Started %s (version of %s)%s", launcher.describe(), workload.fileloc,
                 "" if forked_here else " from the fork server")
        return launcher

    # -- the fork server --------------------------------------------------------------------
    def _spawn_from_fork_server(self, workload: TaskWorkload, theirs: socket.socket) -> tuple[int, int] | None:
        """(pid, pidfd) of a launcher the fork server started on ``theirs``, or None: fork it
        here (the server is not ready yet, is starting now, or failed)."""
        server = self._fork_server
        if server is None or self._ending:
            return None
        if server.can_start():
            try:
                self._fork_server_sock = server.start()
            except OSError:
                log.exception("Could not start the fork server; launchers are forked by the executor")
                return None
            self._selector.register(self._fork_server_sock, selectors.EVENT_READ, (_FORK_SERVER, server))
            return None
        if not server.ready:
            return None
        try:
            return server.spawn(workload.fileloc, workload.dag_id, workload.source_code, theirs.fileno())
        except ForkServerError as exc:
            log.warning("%s; forking the launcher of %s here", exc, workload.dag_id)
            if not server.running:
                self._forget_fork_server()
            return None

    def _forget_fork_server(self) -> None:
        """The server stopped: stop watching its socket."""
        if self._fork_server_sock is not None:
            try:
                self._selector.unregister(self._fork_server_sock)
            except (KeyError, ValueError):
                pass
            self._fork_server_sock = None

    def _on_fork_server_readable(self, server: ForkServer) -> None:
        was_ready = server.ready
        if server.on_readable():
            if server.ready and not was_ready:
                # Launchers forked here meanwhile are heavy: their tries come from lean ones now.
                self.launchers.retire_all(lambda launcher: launcher.forked_here)
            return
        log.warning("The fork server ended; launchers are forked by the executor for a while")
        self._forget_fork_server()
        server.stop(failed=True)

    def _stop_fork_server(self) -> None:
        if self._fork_server is not None:
            self._forget_fork_server()
            self._fork_server.stop()

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
            if any(self._needs_polling(child) for child in self._all_children()):
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
        launchers_gone: list[Launcher] = []
        # Launchers first: a try's "started" comes before what the try itself sent.
        for key, _mask in sorted(ready, key=lambda item: item[0].data is None or item[0].data[0] != _CONTROL):
            if key.data is None:
                readable_extra.append(key.fileobj)
                continue
            kind, item = key.data
            if kind == _CONTROL:
                if not item.stopping and not item.gone:
                    events.extend(self._on_launcher_readable(item))
            elif kind == _LAUNCHER_EXIT:
                if not item.gone:
                    launchers_gone.append(item)
            elif kind == _FORK_SERVER:
                self._on_fork_server_readable(item)
            elif kind == _EXIT:
                exited.append(item)
            elif not item.closed:
                events.extend(self._on_readable(item))
        for child in exited:
            events.extend(self._on_exit(child))
        for launcher in launchers_gone:
            events.extend(self._on_launcher_exit(launcher))
        for child in [c for c in self._all_children() if self._needs_polling(c)]:
            events.extend(self._try_reap(child))
        self._enforce_timeouts()
        for launcher in self.launchers.to_stop():
            self._stop_launcher(launcher)
        return events, readable_extra

    @staticmethod
    def _needs_polling(child: _Child) -> bool:
        """A direct child without a pidfd whose channel closed: reaped by polling."""
        return child.direct and child.closed and child.pidfd is None

    # -- launchers --------------------------------------------------------------------------
    def _on_launcher_readable(self, launcher: Launcher) -> list[Event]:
        messages, closed = launcher.receive_all()
        events: list[Event] = []
        for message in messages:
            events.extend(self._on_launcher_message(launcher, message))
        if closed and not launcher.stopping:
            # It died (its pidfd says so too); take it down now, so no try waits on it.
            events.extend(self._on_launcher_exit(launcher))
        return events

    def _on_launcher_message(self, launcher: Launcher, message: tuple[Any, ...]) -> list[Event]:
        kind = message[0]
        if kind == "ready":
            launcher.loading = False
        elif kind == "load_failed":
            log.warning("%s could not load the DAG version (%s); its tries load it themselves",
                        launcher.describe(), message[1])
            launcher.loading = False
            self.launchers.note_failed(launcher)
            for child in list(launcher.pending.values()):
                self._relaunch_direct(launcher, child)
        elif kind == "launch_failed":
            child = launcher.pending.get(message[1])
            if child is not None:
                log.warning("%s could not fork %s (%s); forking it directly", launcher.describe(),
                            child.describe(), message[2])
                self._relaunch_direct(launcher, child)
        elif kind == "started":
            _kind, ti_id, pid, at = message
            child = launcher.pending.pop(ti_id, None)
            if child is None:
                return []
            child.pid = pid
            launcher.running[pid] = child
            if child.term_pending:
                child.term_pending = False
                kill_group(pid, signal.SIGTERM)
            return [TaskStarted(ti_id, pid, self._hostname, at)]
        elif kind == "exited":
            child = launcher.running.pop(message[1], None)
            events = self._on_exit(child, message[2]) if child is not None else []
            launcher.send_reap(message[1])
            return events
        return []

    def _relaunch_direct(self, launcher: Launcher, child: _Child) -> None:
        """A try its launcher never forked: fork it here instead (its slot is kept)."""
        assert child.workload is not None
        launcher.pending.pop(child.workload.ti_id, None)
        self._close_channel(child)
        self._children.pop(child.workload.ti_id, None)
        if self._ending:  # never started: it stays queued, and the scheduler's shutdown requeues it
            return
        try:
            self._launch_direct(child.workload, started=child.started)
        except Exception as exc:  # fork failed: the try ends here, the scheduler retries or fails it
            log.exception("Could not start %s", child.workload.describe())
            self._pending_events.append(TaskDied(child.workload.ti_id, f"the task process could not start: {exc}"))

    def _on_launcher_exit(self, launcher: Launcher) -> list[Event]:
        """The launcher process ended: reap it, and settle the tries it had."""
        if launcher.gone:
            return []
        launcher.gone = True
        events: list[Event] = []
        if not launcher.stopping:
            messages, _closed = launcher.receive_all()
            for message in messages:
                events.extend(self._on_launcher_message(launcher, message))
        for fd in (launcher.sock, launcher.pidfd):
            try:
                self._selector.unregister(fd)
            except (KeyError, ValueError):
                pass
        if not launcher.stopping:
            launcher.stop()
        try:
            os.close(launcher.pidfd)
        except OSError:
            pass
        status = self._launcher_status(launcher)
        self.launchers.discard(launcher)
        if not (launcher.pending or launcher.running):
            if not (launcher.failed or launcher.retired or self._ending) and status is not None and status != 0:
                log.warning("%s ended (%s)", launcher.describe(), _exit_text(status))
            return events
        log.warning("%s died (%s) with %d tries to start and %d running", launcher.describe(), _exit_text(status),
                    len(launcher.pending), len(launcher.running))
        self.launchers.note_failed(launcher)
        for child in list(launcher.pending.values()):
            if launcher.loading:  # it forked nothing: its tries start here
                self._relaunch_direct(launcher, child)
                continue
            # It may have forked the try and died before saying so: the try cannot run again.
            assert child.workload is not None
            launcher.pending.pop(child.workload.ti_id, None)
            child.launcher = None
            events.extend(self._finalize(child, None, reason="its launcher died before it started"))
        for child in list(launcher.running.values()):
            # Orphaned tries got SIGTERM with their launcher; they end when their channel closes.
            child.launcher = None
            if child.closed:
                events.extend(self._finalize(child, None))
            elif child.kill_at is None:
                child.kill_at = time.monotonic() + self.kill_grace
        launcher.running.clear()
        return events

    def _launcher_status(self, launcher: Launcher) -> int | None:
        """Reap a launcher forked here; ask the fork server how one of its launchers ended."""
        if not launcher.forked_here:
            if self._fork_server is None:
                return None
            return self._fork_server.exit_status(launcher.pid, wait=0.0 if self._ending else fork_server_client.STATUS_WAIT)
        try:
            _pid, status = os.waitpid(launcher.pid, 0)
        except ChildProcessError:
            status = None
        return status

    def _stop_launcher(self, launcher: Launcher) -> None:
        try:
            self._selector.unregister(launcher.sock)
        except (KeyError, ValueError):
            pass
        launcher.stop()

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
            if child.launched:  # its launcher reports the exit; without one, this is the end
                return self._finalize(child, None) if child.launcher is None and child.pid is not None else []
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

    def _on_exit(self, child: _Child, status: Any = _WAIT) -> list[Event]:
        """The process ended (its pidfd is readable, or its launcher reaped it with ``status``):
        read what it sent last, then reap it."""
        events: list[Event] = []
        if not child.closed:
            try:
                messages, _eof = child.channel.drain()
            except ValueError:
                messages = []
            events.extend(self._handle(child, messages))
            self._close_channel(child)
        if status is _WAIT:
            assert child.pid is not None
            try:
                _pid, status = os.waitpid(child.pid, 0)
            except ChildProcessError:
                status = None
        events.extend(self._finalize(child, status))
        return events

    def _try_reap(self, child: _Child) -> list[Event]:
        """Without a pidfd: collect the exit status if the process is gone."""
        assert child.pid is not None
        try:
            done, status = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:
            done, status = child.pid, None  # type: ignore[assignment]
        if not done:
            return []
        return self._finalize(child, status)

    def _finalize(self, child: _Child, status: int | None, *, reason: str | None = None) -> list[Event]:
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
            if reason is None:
                reason = describe_status(status)
            return [TaskDied(child.workload.ti_id, reason)]
        self._callbacks.pop(child.pid, None)
        if child.callback is not None and not self._ending:
            self._ended_callbacks.append((child.callback.dag_id, child.callback.run_id))
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

    def _signal(self, child: _Child, sig: int) -> None:
        """Signal the try's process group. Before its launcher reported the pid, a SIGTERM waits
        for the pid, and a SIGKILL goes to the launcher, which has stopped answering."""
        if child.pid is not None:
            kill_group(child.pid, sig)
        elif sig == signal.SIGTERM:
            child.term_pending = True
        elif child.launcher is not None:
            log.warning("%s did not start %s in time: killing it", child.launcher.describe(), child.describe())
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
                kill_group(child.pid, signal.SIGKILL)
        for child in [c for c in self._all_children() if c.direct]:
            events.extend(self._on_exit(child))
        # Launchers report the ends of the tries they forked; then they go too.
        deadline = time.monotonic() + END_REPORT_WAIT
        while self._all_children() and any(c.launcher is not None for c in self._all_children()) \
                and time.monotonic() < deadline:
            got, _ = self.wait(0.05, [])
            events.extend(got)
        for launcher in list(self.launchers):
            launcher.kill()
            events.extend(self._on_launcher_exit(launcher))
        self._stop_fork_server()
        for child in self._all_children():  # orphans whose channel is still open
            events.extend(self._finalize(child, None))
        events.extend(self._pending_events)
        self._pending_events = []
        self._selector.close()
        self._selector = selectors.DefaultSelector()
        self._ending = False
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
