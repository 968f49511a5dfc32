"""The local executor's warm launchers and fork server: sending tries to launchers, starting
launchers (from the fork server, or forked here while it is not ready), and what launchers
report: a try started, could not be forked, ended; and their own deaths.

A launcher that dies leaves its running tries running (``children.ChildKind.ORPHANED``): they
keep their channel to the executor and are watched through a pidfd opened from their beacon.
A try sent to a launcher that died before it said it forked it is known by its channel alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import socket
import time
from typing import TYPE_CHECKING, Any

from tradewind.executors import fork_server_client
from tradewind.executors.base import Event, TaskDied, TaskStarted
from tradewind.executors.children import (
    CHANNEL,
    EXIT,
    Child,
    ChildKind,
    exit_text,
    kill_group,
)
from tradewind.executors.fork_server_client import ForkServer, ForkServerError
from tradewind.executors.launchers import Launcher, LauncherPool, key_of
from tradewind.runner import beacons, launcher_process, outcome_files
from tradewind.runner.protocol import LineChannel
from tradewind.runner.workload import TaskWorkload

log = logging.getLogger("tradewind.executor")

CONTROL = "control"
LAUNCHER_EXIT = "launcher-exit"
FORK_SERVER = "fork-server"


class LauncherSide:
    """The part of ``LocalExecutor`` that deals with launchers and the fork server."""

    launchers: LauncherPool
    _fork_server: ForkServer | None
    _fork_server_sock: Any
    _children: dict[int, Child]
    _selector: selectors.BaseSelector
    _pending_events: list[Event]
    _hostname: str
    _ending: bool
    _home_key: str | None

    if TYPE_CHECKING:  # provided by LocalExecutor

        def _set_time_limit(self, child: Child) -> None: ...
        def _close_inherited(self, *, keep: int) -> None: ...
        def _launch_direct(self, workload: TaskWorkload, started: float | None = None) -> None: ...
        def _close_channel(self, child: Child) -> None: ...
        def _unregister(self, fileobj: Any) -> None: ...
        def _on_exit(self, child: Child, status: Any = ...) -> list[Event]: ...
        def _finalize(
            self, child: Child, status: int | None, *, reason: str | None = None
        ) -> list[Event]: ...

    def _launch_via(self, launcher: Launcher, workload: TaskWorkload) -> bool:
        """Send the try to its launcher; False when it cannot take it (fork it directly then)."""
        parent_sock, child_sock = socket.socketpair()
        try:
            launcher.send_launch(workload, child_sock.fileno())
        except OSError as exc:
            parent_sock.close()
            if not isinstance(exc, BlockingIOError) and "too large" not in str(exc):
                log.warning(
                    "%s does not take tries (%s); forking them directly", launcher.describe(), exc
                )
                self.launchers.note_failed(launcher)
            return False
        finally:
            child_sock.close()
        parent_sock.setblocking(False)
        child = Child.for_try(
            ChildKind.LAUNCHED, None, LineChannel(parent_sock), time.monotonic(), workload
        )
        child.launcher = launcher
        self._set_time_limit(child)
        self._children[workload.ti_id] = child
        launcher.pending[workload.ti_id] = child
        self._selector.register(parent_sock, selectors.EVENT_READ, (CHANNEL, child))
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
                self._close_inherited(keep=theirs.fileno())
                launcher_process.serve(
                    theirs,
                    workload.fileloc,
                    workload.source_code,
                    workload.dag_id,
                    parent_pid=parent_pid,
                    home_key=self._home_key,
                )
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

    def _add_launcher(
        self,
        workload: TaskWorkload,
        pid: int,
        sock: socket.socket,
        pidfd: int,
        *,
        forked_here: bool,
    ) -> Launcher:
        now = time.monotonic()
        launcher = Launcher(
            key=key_of(workload),
            pid=pid,
            sock=sock,
            pidfd=pidfd,
            created=now,
            last_used=now,
            forked_here=forked_here,
        )
        self._selector.register(sock, selectors.EVENT_READ, (CONTROL, launcher))
        self._selector.register(pidfd, selectors.EVENT_READ, (LAUNCHER_EXIT, launcher))
        log.info(
            "Started %s (version of %s)%s",
            launcher.describe(),
            workload.fileloc,
            "" if forked_here else " from the fork server",
        )
        return launcher

    # -- the fork server --------------------------------------------------------------------
    def _spawn_from_fork_server(
        self, workload: TaskWorkload, theirs: socket.socket
    ) -> tuple[int, int] | None:
        """(pid, pidfd) of a launcher the fork server started on ``theirs``, or None: fork it
        here (the server is not ready yet, is starting now, or failed)."""
        server = self._fork_server
        if server is None or self._ending:
            return None
        if server.can_start():
            try:
                self._fork_server_sock = server.start()
            except OSError:
                log.exception(
                    "Could not start the fork server; launchers are forked by the executor"
                )
                return None
            self._selector.register(
                self._fork_server_sock, selectors.EVENT_READ, (FORK_SERVER, server)
            )
            return None
        if not server.ready:
            return None
        try:
            return server.spawn(
                workload.fileloc,
                workload.dag_id,
                workload.source_code,
                theirs.fileno(),
                home_key=self._home_key,
            )
        except ForkServerError as exc:
            log.warning("%s; forking the launcher of %s here", exc, workload.dag_id)
            if not server.running:
                self._forget_fork_server()
            return None

    def _forget_fork_server(self) -> None:
        """The server stopped: stop watching its socket."""
        if self._fork_server_sock is not None:
            self._unregister(self._fork_server_sock)
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

    # -- what launchers report ------------------------------------------------------------
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
            log.warning(
                "%s could not load the DAG version (%s); its tries load it themselves",
                launcher.describe(),
                message[1],
            )
            launcher.loading = False
            self.launchers.note_failed(launcher)
            for child in list(launcher.pending.values()):
                self._relaunch_direct(launcher, child)
        elif kind == "launch_failed":
            child = launcher.pending.get(message[1])
            if child is not None:
                log.warning(
                    "%s could not fork %s (%s); forking it directly",
                    launcher.describe(),
                    child.describe(),
                    message[2],
                )
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
            return [] if child.released else [TaskStarted(ti_id, pid, self._hostname, at)]
        elif kind == "exited":
            child = launcher.running.pop(message[1], None)
            events = self._on_exit(child, message[2]) if child is not None else []
            launcher.send_reap(message[1])
            return events
        return []

    def _relaunch_direct(self, launcher: Launcher | None, child: Child) -> None:
        """A try its launcher never forked: fork it here instead (its slot is kept)."""
        assert child.workload is not None
        if launcher is not None:
            launcher.pending.pop(child.workload.ti_id, None)
        self._close_channel(child)
        child.ended = True
        self._children.pop(child.workload.ti_id, None)
        if self._ending:  # never started: it stays queued, and the scheduler's shutdown requeues it
            return
        try:
            self._launch_direct(child.workload, started=child.started)
        except (
            Exception
        ) as exc:  # fork failed: the try ends here, the scheduler retries or fails it
            log.exception("Could not start %s", child.workload.describe())
            self._pending_events.append(
                TaskDied(child.workload.ti_id, f"the task process could not start: {exc}")
            )

    def _lost_before_start(self, child: Child) -> list[Event]:
        """A try sent to a launcher that died before it said it forked it, whose channel
        closed without a word: if it cannot have run (no log of it, or a sensor's poke, which
        may run again), it starts here; else it died early, and its try is used."""
        workload = child.workload
        if (
            workload is not None
            and not child.heard
            and not self._ending
            and outcome_files.read(child.outcome_path, workload.ti_id, workload.try_number) is None
            and (workload.sensor_start_date is not None or not os.path.exists(workload.log_path))
        ):
            log.warning(
                "%s never started (its launcher died first): starting it here", child.describe()
            )
            self._relaunch_direct(None, child)
            return []
        return self._finalize(child, None, reason="its launcher died before it said it started it")

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
            self._unregister(fd)
        if not launcher.stopping:
            launcher.stop()
        with contextlib.suppress(OSError):
            os.close(launcher.pidfd)
        status = self._launcher_status(launcher)
        self.launchers.discard(launcher)
        if not (launcher.pending or launcher.running):
            if (
                not (launcher.failed or launcher.retired or self._ending)
                and status is not None
                and status != 0
            ):
                log.warning("%s ended (%s)", launcher.describe(), exit_text(status))
            return events
        log.warning(
            "%s died (%s) with %d tries to start and %d running; the running ones go on",
            launcher.describe(),
            exit_text(status),
            len(launcher.pending),
            len(launcher.running),
        )
        self.launchers.note_failed(launcher)
        for child in list(launcher.pending.values()):
            launcher.pending.pop(child.ti_id, None)
            if launcher.loading:  # it forked nothing: its tries start here
                self._relaunch_direct(launcher, child)
                continue
            # It may have forked the try and died before saying so: the try's channel tells.
            child.kind, child.launcher = ChildKind.ORPHANED, None
            if child.closed:
                events.extend(self._lost_before_start(child))
        # Its running tries go on: watched through a pidfd when their beacon names their
        # process, else through their channel, whose end is theirs.
        identities = (
            beacons.scan(self._home_key) if self._home_key is not None and launcher.running else []
        )
        for child in list(launcher.running.values()):
            child.kind, child.launcher = ChildKind.ORPHANED, None
            for ti_id, try_number, identity in identities:
                if (ti_id, try_number, identity.pid) == (child.ti_id, child.try_number, child.pid):
                    child.pidfd = identity.open_pidfd()
                    if child.pidfd is not None:
                        self._selector.register(child.pidfd, selectors.EVENT_READ, (EXIT, child))
            if child.closed:
                events.extend(self._on_exit(child, None))  # it ended with (or before) its launcher
        launcher.running.clear()
        return events

    def _launcher_status(self, launcher: Launcher) -> int | None:
        """Reap a launcher forked here; ask the fork server how one of its launchers ended."""
        if not launcher.forked_here:
            if self._fork_server is None:
                return None
            return self._fork_server.exit_status(
                launcher.pid, wait=0.0 if self._ending else fork_server_client.STATUS_WAIT
            )
        try:
            _pid, status = os.waitpid(launcher.pid, 0)
        except ChildProcessError:
            status = None
        return status

    def _stop_launcher(self, launcher: Launcher) -> None:
        self._unregister(launcher.sock)
        launcher.stop()
