"""The executor's side of warm launchers and the fork server: sending tries to launchers,
starting launchers (from the fork server, or forked here while it is not ready), and what
launchers report: a try started, could not be forked, ended; and their own deaths.

A launcher that dies leaves its running tries running (``children.ChildKind.ORPHANED``): they
keep their channel to the executor and are watched through a pidfd opened from their beacon.
A try sent to a launcher that died before it said it forked it is known by its channel alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import time
from collections.abc import Callable

from tradewind.executors import fork_server_client
from tradewind.executors.base import Event, TaskDied, TaskStarted
from tradewind.executors.children import Child, ChildKind, ChildPhase, exit_text, kill_group
from tradewind.executors.fork_server_client import ForkServer, ForkServerError
from tradewind.executors.forking import Closer, close_inherited
from tradewind.executors.launchers import TAKING, Launcher, LauncherPool, key_of
from tradewind.executors.try_supervisor import (
    END_REPORT_WAIT,
    FIRST,
    LAST,
    TrySupervisor,
    take_held_finish,
)
from tradewind.runner import beacons, launcher_process, outcome_files
from tradewind.runner.messages import (
    Exited,
    LaunchFailed,
    LoadFailed,
    PacketMessage,
    Ready,
    Started,
)
from tradewind.runner.protocol import LineChannel
from tradewind.runner.workload import TaskWorkload

log = logging.getLogger("tradewind.executor")

#: Forks a try directly (``started``: when it was first launched).
DirectLaunch = Callable[[TaskWorkload, float], None]


class LauncherClient:
    """The launchers (``pool``) and fork server of one executor, whose tries ``supervisor``
    watches; ``fork_direct`` starts a try without a launcher, ``closers`` say what a
    launcher forked here must close."""

    def __init__(
        self,
        supervisor: TrySupervisor,
        pool: LauncherPool,
        fork_server: ForkServer | None,
        *,
        fork_direct: DirectLaunch,
        closers: Callable[[], list[Closer]],
        time_limit: Callable[[TaskWorkload], float | None],
        hostname: str,
    ) -> None:
        self.supervisor = supervisor
        self.pool = pool
        self.fork_server = fork_server
        self.fork_direct = fork_direct
        self.closers = closers
        self.time_limit = time_limit
        self.hostname = hostname
        self.home_key: str | None = None
        self._fork_server_sock: socket.socket | None = None
        supervisor.on_lost_before_start = self.lost_before_start

    def close_in_child(self) -> None:
        for launcher in self.pool:
            launcher.close_in_child()
        if self.fork_server is not None:
            self.fork_server.close_in_child()

    # -- sending tries ----------------------------------------------------------------------
    def launch(self, workload: TaskWorkload) -> bool:
        """Send the try to its version's launcher; False: fork it directly."""
        try:
            launcher = self.pool.for_workload(workload, self._spawn)
        except OSError:  # no launcher can start here (no pidfds, no processes left)
            log.exception("Could not start a warm launcher; tries are forked directly from now on")
            self.pool.enabled = False
            return False
        return launcher is not None and self._send(launcher, workload)

    def _send(self, launcher: Launcher, workload: TaskWorkload) -> bool:
        parent_sock, child_sock = socket.socketpair()
        try:
            launcher.send_launch(workload, child_sock.fileno())
        except OSError as exc:
            parent_sock.close()
            if not isinstance(exc, BlockingIOError) and "too large" not in str(exc):
                log.warning(
                    "%s does not take tries (%s); forking them directly", launcher.describe(), exc
                )
                self.pool.note_failed(launcher)
            return False
        finally:
            child_sock.close()
        parent_sock.setblocking(False)
        child = Child.for_try(
            ChildKind.LAUNCHED, None, LineChannel(parent_sock), time.monotonic(), workload
        )
        child.launcher = launcher
        launcher.pending[workload.ti_id] = child
        self.supervisor.add_try(child, self.time_limit(workload))
        return True

    # -- starting launchers -----------------------------------------------------------------
    def _spawn(self, workload: TaskWorkload) -> Launcher:
        """A launcher for the workload's DAG version (it loads the source on its own time):
        from the fork server when it is ready, else forked here."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        spawned = self._spawn_from_fork_server(workload, theirs)
        if spawned is not None:
            theirs.close()
            ours.setblocking(False)
            pid, pidfd = spawned
            return self._add(workload, pid, ours, pidfd, forked_here=False)
        parent_pid = os.getpid()
        pid = os.fork()
        if pid == 0:  # the launcher: never returns
            try:
                ours.close()
                close_inherited(self.closers(), keep=theirs.fileno())
                launcher_process.serve(
                    theirs,
                    workload.fileloc,
                    workload.source_code,
                    workload.dag_id,
                    parent_pid=parent_pid,
                    home_key=self.home_key,
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
        return self._add(workload, pid, ours, pidfd, forked_here=True)

    def _add(
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
            first_workload=workload,
        )
        self.supervisor.watch(sock, FIRST, self._on_readable, launcher)
        self.supervisor.watch(pidfd, LAST, self.on_exit, launcher)
        log.info(
            "Started %s%s%s",
            launcher.describe(),
            "" if launcher.any_version else f" (version of {workload.fileloc})",
            "" if forked_here else " from the fork server",
        )
        return launcher

    def _spawn_from_fork_server(
        self, workload: TaskWorkload, theirs: socket.socket
    ) -> tuple[int, int] | None:
        """(pid, pidfd) of a launcher the fork server started on ``theirs``, or None: fork it
        here (the server is not ready yet, is starting now, or failed)."""
        server = self.fork_server
        if server is None or self.supervisor.ending:
            return None
        if server.can_start():
            try:
                self._fork_server_sock = server.start()
            except OSError:
                log.exception(
                    "Could not start the fork server; launchers are forked by the executor"
                )
                return None
            self.supervisor.watch(self._fork_server_sock, FIRST, self._on_fork_server, server)
            return None
        if not server.ready:
            return None
        try:
            return server.spawn(
                workload.fileloc,
                workload.dag_id,
                workload.source_code,
                theirs.fileno(),
                home_key=self.home_key,
            )
        except ForkServerError as exc:
            log.warning("%s; forking the launcher of %s here", exc, workload.dag_id)
            if not server.running:
                self._forget_fork_server()
            return None

    def _forget_fork_server(self) -> None:
        if self._fork_server_sock is not None:
            self.supervisor.unwatch(self._fork_server_sock)
            self._fork_server_sock = None

    def _on_fork_server(self, server: ForkServer) -> list[Event]:
        was_ready = server.ready
        if server.on_readable():
            if server.ready and not was_ready:
                # Launchers forked here meanwhile are heavy: their tries come from lean ones now.
                self.pool.retire_all(lambda launcher: launcher.forked_here)
            return []
        log.warning("The fork server ended; launchers are forked by the executor for a while")
        self._forget_fork_server()
        server.stop(failed=True)
        return []

    # -- what launchers report --------------------------------------------------------------
    def _on_readable(self, launcher: Launcher) -> list[Event]:
        if launcher.stopping:
            return []
        messages, closed = launcher.receive_all()
        events: list[Event] = []
        for message in messages:
            events.extend(self._on_message(launcher, message))
        if closed and not launcher.stopping:
            # It died (its pidfd says so too); take it down now, so no try waits on it.
            events.extend(self.on_exit(launcher))
        return events

    def _on_message(self, launcher: Launcher, message: PacketMessage) -> list[Event]:
        if isinstance(message, Ready):
            launcher.ready()
        elif isinstance(message, LoadFailed):
            log.warning(
                "%s could not load the DAG version (%s); its tries load it themselves",
                launcher.describe(),
                message.reason,
            )
            self.pool.note_failed(launcher)
            for child in list(launcher.pending.values()):
                self._relaunch_direct(launcher, child)
        elif isinstance(message, LaunchFailed):
            child = launcher.pending.get(message.ti_id)
            if child is not None:
                log.warning(
                    "%s could not fork %s (%s); forking it directly",
                    launcher.describe(),
                    child.describe(),
                    message.reason,
                )
                self._relaunch_direct(launcher, child)
        elif isinstance(message, Started):
            child = launcher.pending.pop(message.ti_id, None)
            if child is None:
                return []
            launcher.running[message.pid] = child
            if child.forked(message.pid):
                kill_group(message.pid, signal.SIGTERM)
            if child.released:
                return []
            started = TaskStarted(message.ti_id, message.pid, self.hostname, message.at)
            return [started, *take_held_finish(child)]
        elif isinstance(message, Exited):
            child = launcher.running.pop(message.pid, None)
            events = (
                self.supervisor.on_exit(child, message.status, known=True)
                if child is not None
                else []
            )
            launcher.send_reap(message.pid)
            return events
        return []

    def _relaunch_direct(self, launcher: Launcher | None, child: Child) -> None:
        """A try its launcher never forked: fork it here instead (its slot is kept)."""
        assert child.workload is not None
        if launcher is not None:
            launcher.pending.pop(child.workload.ti_id, None)
        self.supervisor.close_channel(child)
        stopped = child.reap() in (ChildPhase.STOPPING, ChildPhase.KILLED)
        self.supervisor.tries.pop(child.workload.ti_id, None)
        if self.supervisor.ending:  # never started: it stays queued; the shutdown requeues it
            return
        if stopped:  # ``terminate`` came first: it is not started again
            self.supervisor.pending_events.append(
                TaskDied(child.workload.ti_id, "the try was stopped before its process started")
            )
            return
        try:
            self.fork_direct(child.workload, child.started)
        except Exception as exc:  # fork failed: the try ends here, the scheduler retries it
            log.exception("Could not start %s", child.workload.describe())
            self.supervisor.pending_events.append(
                TaskDied(child.workload.ti_id, f"the task process could not start: {exc}")
            )

    def lost_before_start(self, child: Child) -> list[Event]:
        """A try sent to a launcher that died before it said it forked it, whose channel
        closed without a word: if it cannot have run (no log of it, or a sensor's poke, which
        may run again), it starts here; else it died early, and its try is used."""
        workload = child.workload
        if (
            workload is not None
            and not child.heard
            and not self.supervisor.ending
            and outcome_files.read_done(child.outcome_path, workload.ti_id, workload.try_number)
            is None
            and (workload.sensor_start_date is not None or not os.path.exists(workload.log_path))
        ):
            log.warning(
                "%s never started (its launcher died first): starting it here", child.describe()
            )
            self._relaunch_direct(None, child)
            return []
        return self.supervisor.lost(child)

    def on_exit(self, launcher: Launcher) -> list[Event]:
        """The launcher process ended: reap it, and settle the tries it had."""
        if launcher.gone:
            return []
        events: list[Event] = []
        if not launcher.stopping:
            messages, _closed = launcher.receive_all()
            for message in messages:
                events.extend(self._on_message(launcher, message))
        before = launcher.phase
        for fd in (launcher.sock, launcher.pidfd):
            self.supervisor.unwatch(fd)
        launcher.stop()
        launcher.reaped()
        with contextlib.suppress(OSError):
            os.close(launcher.pidfd)
        status = self._status(launcher)
        self.pool.discard(launcher)
        if not (launcher.pending or launcher.running):
            if before in TAKING and not self.supervisor.ending and status:
                log.warning("%s ended (%s)", launcher.describe(), exit_text(status))
            return events
        log.warning(
            "%s died (%s) with %d tries to start and %d running; the running ones go on",
            launcher.describe(),
            exit_text(status),
            len(launcher.pending),
            len(launcher.running),
        )
        self.pool.note_failed(launcher)
        for child in list(launcher.pending.values()):
            launcher.pending.pop(child.ti_id, None)
            if not launcher.loaded:  # it forked nothing: its tries start here
                self._relaunch_direct(launcher, child)
                continue
            # It may have forked the try and died before saying so: the try's channel tells.
            child.kind, child.launcher = ChildKind.ORPHANED, None
            if child.closed:
                events.extend(self.lost_before_start(child))
        events.extend(self._orphan_running(launcher))
        return events

    def _orphan_running(self, launcher: Launcher) -> list[Event]:
        """Its running tries go on: watched through a pidfd when their beacon names their
        process, else through their channel, whose end is theirs."""
        events: list[Event] = []
        identities = (
            beacons.scan(self.home_key) if self.home_key is not None and launcher.running else []
        )
        for child in list(launcher.running.values()):
            child.kind, child.launcher = ChildKind.ORPHANED, None
            for ti_id, try_number, identity in identities:
                if (ti_id, try_number, identity.pid) == (child.ti_id, child.try_number, child.pid):
                    pidfd = identity.open_pidfd()
                    if pidfd is not None:
                        self.supervisor.watch_process(child, pidfd)
            if child.closed:  # it ended with (or before) its launcher
                events.extend(self.supervisor.on_exit(child, None, known=True))
        launcher.running.clear()
        return events

    def _status(self, launcher: Launcher) -> int | None:
        """Reap a launcher forked here; ask the fork server how one of its launchers ended."""
        if not launcher.forked_here:
            if self.fork_server is None:
                return None
            return self.fork_server.exit_status(
                launcher.pid,
                wait=0.0 if self.supervisor.ending else fork_server_client.STATUS_WAIT,
            )
        try:
            _pid, status = os.waitpid(launcher.pid, 0)
        except ChildProcessError:
            status = None
        return status

    # -- stopping ---------------------------------------------------------------------------
    def stop_idle(self) -> None:
        """Stop the launchers idle too long, too old, or retired and idle."""
        for launcher in self.pool.to_stop():
            self.supervisor.unwatch(launcher.sock)
            launcher.stop()
        if not self.supervisor.ending:
            try:
                self.pool.replace_aged(self._spawn)
            except OSError:  # as for a try: no launcher can start here now
                log.exception("Could not start a warm launcher in place of an aged one")

    def end(self) -> list[Event]:
        """Kill every launcher (their tries go on until ``end`` of the executor stops them)
        and the fork server; the events of tries whose ends they reported."""
        events: list[Event] = []
        stopping = [launcher for launcher in self.pool if not launcher.gone]
        for launcher in stopping:
            launcher.kill()
        deadline = time.monotonic() + END_REPORT_WAIT
        for launcher in stopping:  # gone before this returns, so nothing of ours outlives it
            select.select([launcher.pidfd], [], [], max(0.0, deadline - time.monotonic()))
            events.extend(self.on_exit(launcher))
        if self.fork_server is not None:
            self._forget_fork_server()
            self.fork_server.stop()
        return events
