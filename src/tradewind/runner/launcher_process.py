"""The main function of a warm launcher: load one DAG version's source once, then fork a task
process for each try the executor sends, already holding the loaded DAG. A launcher started
without a source serves any version: its tries load their source themselves (still forked
from a warm process, without a launcher of their own to start).

A task process of a big DAG used to spend most of its time executing the DAG file again
(building every operator, quadratic over a fan-out). A launcher is forked from the scheduler
process (so user code still never runs in the scheduler itself), loads the pinned source, and
forks task processes from itself, so each starts with the DAG built.

Protocol, over a ``SOCK_SEQPACKET`` socket pair, one message of ``runner.messages`` per
frame (``runner.message_codec``'s packets):

- launcher → executor, once: ``Ready`` after the source loaded, or ``LoadFailed``, after
  which it forks nothing and exits;
- executor → launcher: ``Launch`` with the task process's end of its channel attached
  (``SCM_RIGHTS``); the workload's ``source_code`` is left out (the launcher has it), except
  for a launcher of any version;
- launcher → executor: ``Started`` right after the fork (the process group is set on both
  sides of the fork first), or ``LaunchFailed``; ``Exited`` when a task process ended
  (``os.waitpid``-style status);
- executor → launcher: ``Reap`` once the executor has settled that exit. The ended process
  stays a zombie until then, so its pid (and process group) cannot be reused while the
  executor may still signal it.

The launcher dies with the process that started it (``PR_SET_PDEATHSIG``), but its task
processes do not: they go on as orphans, still connected to the executor by their channels,
and are found again by their beacons (``runner.beacons``) if the executor died too. The
launcher exits when the executor closes its end of the socket.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import selectors
import signal
import socket
import sys
import threading
import traceback
from typing import Any, NoReturn

from tradewind.dag_processing.source_loader import load_dag_from_source
from tradewind.runner import message_codec, task_process
from tradewind.runner.messages import (
    Exited,
    Launch,
    LaunchFailed,
    LoadFailed,
    PacketMessage,
    Ready,
    Reap,
    Started,
)
from tradewind.runner.parent_death import die_with_parent
from tradewind.runner.protocol import LineChannel
from tradewind.runner.workload import TaskWorkload
from tradewind.sdk import templating, timezone

#: Largest message either side sends (a launch request is a workload without its source).
MAX_MESSAGE = 128 * 1024


def send(sock: socket.socket, message: PacketMessage, fds: list[int] | None = None) -> None:
    """One message (blocking); raises ``OSError`` when the other end is gone or it is too big."""
    data = message_codec.encode_packet(message)
    if len(data) > MAX_MESSAGE:
        raise OSError(f"launcher message of {len(data)} bytes is too large")
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.send(data)


def receive(
    sock: socket.socket, *, what: str = "the peer"
) -> tuple[PacketMessage | None, list[int]]:
    """One message and the descriptors attached to it; ``(None, [])`` at the end of the stream.
    ``message_codec.ProtocolMismatch`` (descriptors closed) when the peer is of another release."""
    data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE + 1, 4)
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    try:
        return message_codec.decode_packet(data, what=what), fds
    except ValueError:
        for fd in fds:
            os.close(fd)
        raise


def _quiet_output() -> None:
    """The launcher's own output goes nowhere: what the DAG file prints at import time belongs
    to no try, and each task process sends its output to its try's log."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for name in list(logging.Logger.manager.loggerDict):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def _forget_engines() -> None:
    """Forked from the scheduler, this process has its (disposed) engines; neither it nor its
    tries use the metastore, so its forks need not dispose them again. Started from the fork
    server, it never loaded the metastore's modules, and must not (they are heavy)."""
    engine_module = sys.modules.get("tradewind.db.engine")
    if engine_module is not None:
        engine_module.forget_engines()


def _open_fds() -> set[tuple[int, int, int]]:
    """What this process has open: (descriptor, device, inode) each, so a descriptor number
    closed and used again for something new counts as new."""
    try:
        listed = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return set()
    found = set()
    for fd in listed:
        try:
            info = os.fstat(fd)
        except OSError:  # the one listdir used, closed since
            continue
        found.add((fd, info.st_dev, info.st_ino))
    return found


def _unsafe_to_fork(fds_before: set[tuple[int, int, int]]) -> str | None:
    """What the DAG file left behind that forked tries would share, or None.

    A try that loads its DAG itself has its own threads and its own files and connections.
    Forked from here, every try would share the launcher's: a thread's lock may be held
    forever in the child, and two tries talking over one socket garble it. Such a version's
    tries load the source themselves, as without a launcher.
    """
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        threads = threading.active_count()
    if threads > 1:
        return "starts threads"
    if _open_fds() - fds_before:
        return "leaves files or connections open"
    return None


def serve(
    control: socket.socket,
    fileloc: str,
    source_code: str,
    dag_id: str,
    *,
    parent_pid: int,
    home_key: str | None = None,
) -> NoReturn:
    """Load the DAG (none when ``source_code`` is empty), then launch task processes until the
    executor closes ``control``. ``home_key``: passed to each task process
    (``task_process.run``)."""
    code = 0
    try:
        # The scheduler's handlers are no business of ours (and must be gone before the
        # parent-death signal can arrive).
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setpgid(0, 0)  # a Ctrl-C on the terminal is for the scheduler, which stops us
        die_with_parent(signal.SIGKILL, expected_parent=parent_pid)
        _forget_engines()
        _quiet_output()
        fds_before = _open_fds()
        dag: Any = None
        try:
            if source_code:  # else a launcher for any version: each try loads its own
                dag = load_dag_from_source(source_code, fileloc, dag_id)
                # Built once, inherited by every try; if it fails, the try that renders says so.
                with contextlib.suppress(Exception):
                    templating.environment_for(dag)
        except BaseException as exc:
            send(control, LoadFailed(f"{type(exc).__name__}: {exc}"))
            _exit(0)
        unsafe = _unsafe_to_fork(fds_before)
        if unsafe:
            send(
                control,
                LoadFailed(f"the DAG file {unsafe} when imported, which its tries must not share"),
            )
            _exit(0)
        task_process.prepare_output()
        task_process.warm_up()
        # Objects alive now are never collected in the children: keeping the collector off
        # them keeps their pages shared instead of copied on the first collection.
        gc.freeze()
        send(control, Ready())
        _Launcher(control, dag, source_code, home_key).loop()
    except BaseException:
        traceback.print_exc()
        code = 1
    _exit(code)


def _exit(code: int) -> NoReturn:
    os._exit(code)


class _Launcher:
    def __init__(
        self, control: socket.socket, dag: Any, source_code: str, home_key: str | None
    ) -> None:
        self.control = control
        self.home_key = home_key
        self.dag = dag
        self.source_code = source_code
        self.selector = selectors.DefaultSelector()
        self.pidfds: dict[int, int] = {}  # pid -> pidfd

    def loop(self) -> None:
        self.selector.register(self.control, selectors.EVENT_READ, None)
        while True:
            for key, _mask in self.selector.select():
                if key.data is None:
                    try:
                        message, fds = receive(self.control, what="the executor")
                    except OSError:  # the executor died (its end was reset): nothing left to do
                        return
                    if message is None:
                        return
                    try:
                        self._on_message(message, fds)
                    except ConnectionError:  # the executor is gone: so is our reason to be
                        return
                else:
                    try:
                        self._on_exit(key.data)
                    except ConnectionError:
                        return

    def _on_message(self, message: PacketMessage, fds: list[int]) -> None:
        if isinstance(message, Reap) and not fds:
            self._reap(message.pid)
            return
        if not isinstance(message, Launch) or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            return
        workload: TaskWorkload = message.workload
        if self.dag is not None:  # the executor left out the source this launcher loaded
            workload = dataclasses.replace(workload, source_code=self.source_code)
        channel_fd = fds[0]
        sys.stdout.flush()  # nothing buffered may be written twice
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(channel_fd)
            send(self.control, LaunchFailed(workload.ti_id, f"{type(exc).__name__}: {exc}"))
            return
        if pid == 0:
            self._become_task(workload, channel_fd)
        # Also here, so a kill right after the reply reaches the group.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        os.close(channel_fd)
        at = timezone.utcnow()
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # cannot happen for an unreaped child; reap it blocking then
            pidfd = None
        send(self.control, Started(workload.ti_id, pid, at))
        if pidfd is None:
            _pid, status = os.waitpid(pid, 0)
            send(self.control, Exited(pid, status))
            return
        self.pidfds[pid] = pidfd
        self.selector.register(pidfd, selectors.EVENT_READ, pid)

    def _become_task(self, workload: TaskWorkload, channel_fd: int) -> NoReturn:
        try:
            os.setpgid(0, 0)
            self.selector.close()
            for fd in self.pidfds.values():
                os.close(fd)
            self.control.close()
            channel = LineChannel(socket.socket(fileno=channel_fd))
            task_process.run(
                workload, channel, dag=self.dag, output_prepared=True, home_key=self.home_key
            )
        finally:
            os._exit(1)

    def _on_exit(self, pid: int) -> None:
        """A task process ended: report how, without reaping it yet."""
        pidfd = self.pidfds[pid]
        self.selector.unregister(pidfd)
        try:
            info = os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            info = None
        send(self.control, Exited(pid, _wait_status(info)))

    def _reap(self, pid: int) -> None:
        pidfd = self.pidfds.pop(pid, None)
        if pidfd is None:
            return
        os.close(pidfd)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _wait_status(info: Any) -> int | None:
    """``os.waitid``'s answer as the status ``os.waitpid`` would give."""
    if info is None:
        return None
    if info.si_code == os.CLD_EXITED:
        return (info.si_status & 0xFF) << 8
    if info.si_code == os.CLD_KILLED:
        return info.si_status & 0x7F
    if info.si_code == os.CLD_DUMPED:
        return (info.si_status & 0x7F) | 0x80
    return None
