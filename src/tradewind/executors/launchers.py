"""Warm launchers, seen from the executor: one process per DAG version that forks its tries.

Each launcher (``runner.launcher_process``) has loaded one DAG version's source, so a try it
forks starts with the DAG built instead of executing the file again. This module keeps them:
at most ``max_launchers`` (least recently used retired first), each stopped once idle for
``idle_timeout`` seconds and retired (no new tries; stopped when its tries end) after
``max_age`` seconds, so helper modules beside a DAG file that changed on disk are picked up
again. A version whose source the launcher could not load is not tried again for
``failure_ttl`` seconds: its tries are forked directly and report the load error themselves.

Launchers need Linux: ``pidfd_open`` (to reap them and their tries without polling) and
``SCM_RIGHTS`` over a ``SOCK_SEQPACKET`` socket pair. Elsewhere ``LauncherPool.enabled`` is
false and every try is forked directly.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

from tradewind.runner import launcher_process
from tradewind.runner.workload import TaskWorkload

log = logging.getLogger("tradewind.executor")

#: (dag_id, fileloc, source code): what a launcher has loaded.
LauncherKey = tuple[str, str, str]

MAX_LAUNCHERS = 8
IDLE_TIMEOUT = 60.0
MAX_AGE = 300.0
FAILURE_TTL = 60.0
#: A launcher still loading after this many seconds gets no more tries (they fork directly).
LOAD_PATIENCE = 10.0


def supported() -> bool:
    return (
        hasattr(os, "pidfd_open")
        and hasattr(socket, "send_fds")
        and hasattr(socket, "SOCK_SEQPACKET")
        and hasattr(os, "fork")
    )


def key_of(workload: TaskWorkload) -> LauncherKey:
    return (workload.dag_id, workload.fileloc, workload.source_code)


@dataclasses.dataclass(eq=False)
class Launcher:
    """One launcher process and the tries it was asked to start.

    ``pending``: ti_id → the executor's record of a try sent but not yet reported started;
    ``running``: pid → the record of a started try not yet reported reaped.
    """

    key: LauncherKey
    pid: int
    sock: socket.socket
    pidfd: int
    created: float
    last_used: float
    loading: bool = True
    failed: bool = False
    retired: bool = False
    stopping: bool = False
    #: Forked by the executor's process (which reaps it), not by the fork server.
    forked_here: bool = True
    #: Reaped: its descriptors are closed.
    gone: bool = False
    pending: dict[int, Any] = dataclasses.field(default_factory=dict)
    running: dict[int, Any] = dataclasses.field(default_factory=dict)

    @property
    def busy(self) -> bool:
        return bool(self.pending or self.running)

    def describe(self) -> str:
        return f"warm launcher {self.pid} of DAG {self.key[0]}"

    def send_launch(self, workload: TaskWorkload, channel_fd: int) -> None:
        """Ask for one try; raises ``OSError`` (``BlockingIOError`` when its queue is full)."""
        launcher_process.send(
            self.sock, ("launch", dataclasses.replace(workload, source_code="")), [channel_fd]
        )
        self.last_used = time.monotonic()

    def send_reap(self, pid: int) -> None:
        """Let it reap a try whose end was settled (until then the pid cannot be reused)."""
        # OSError: full or gone, and the zombie goes with the launcher.
        with contextlib.suppress(OSError):
            launcher_process.send(self.sock, ("reap", pid))

    def receive_all(self) -> tuple[list[tuple[Any, ...]], bool]:
        """The messages waiting, and whether the launcher's end is closed."""
        messages: list[tuple[Any, ...]] = []
        while True:
            try:
                message, fds = launcher_process.receive(self.sock)
            except BlockingIOError:
                return messages, False
            except OSError:
                return messages, True
            for fd in fds:  # a launcher sends none; never leak one
                os.close(fd)
            if message is None:
                return messages, True
            messages.append(message)

    def stop(self) -> None:
        """Close our end (unregister it first): the launcher exits when it reads the end."""
        self.stopping = True
        with contextlib.suppress(OSError):
            self.sock.close()

    def kill(self) -> None:
        """SIGKILL: its tries go on (orphaned, still on their channels); what it already sent
        can still be read."""
        if self.gone:  # reaped, its pidfd closed (that number may name another process now)
            return
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except OSError:  # its pidfd is closed: it was reaped, there is nothing to kill
            pass

    def close_in_child(self) -> None:
        """In a process forked from the executor: drop our descriptors of this launcher."""
        for close in (self.sock.close, lambda: os.close(self.pidfd)):
            with contextlib.suppress(OSError):
                close()


class LauncherPool:
    """The executor's launchers by what they loaded; ``spawn`` forks a new one."""

    def __init__(
        self,
        *,
        max_launchers: int = MAX_LAUNCHERS,
        idle_timeout: float = IDLE_TIMEOUT,
        max_age: float = MAX_AGE,
        failure_ttl: float = FAILURE_TTL,
        enabled: bool | None = None,
    ) -> None:
        self.max_launchers = max_launchers
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self.failure_ttl = failure_ttl
        self.enabled = supported() if enabled is None else enabled
        self._current: collections.OrderedDict[LauncherKey, Launcher] = collections.OrderedDict()
        self._retired: list[Launcher] = []
        self._failed: dict[LauncherKey, float] = {}

    def __iter__(self) -> Iterator[Launcher]:
        yield from list(self._current.values())
        yield from list(self._retired)

    def for_workload(
        self, workload: TaskWorkload, spawn: Callable[[TaskWorkload], Launcher]
    ) -> Launcher | None:
        """The launcher to send this try to (spawned when needed), or None: fork it directly."""
        if not self.enabled or not workload.source_code:
            return None
        key = key_of(workload)
        now = time.monotonic()
        failed_until = self._failed.get(key)
        if failed_until is not None:
            if now < failed_until:
                return None
            del self._failed[key]
        launcher = self._current.get(key)
        if launcher is not None and now - launcher.created > self.max_age:
            self._retire(launcher)
            launcher = None
        if launcher is not None:
            if launcher.loading and now - launcher.created > LOAD_PATIENCE:
                return None
            self._current.move_to_end(key)
            return launcher
        while len(self._current) >= self.max_launchers:
            self._retire(next(iter(self._current.values())))
        launcher = spawn(workload)
        self._current[key] = launcher
        return launcher

    def note_failed(self, launcher: Launcher) -> None:
        """Its source did not load (or it died): fork that version's tries directly for a while."""
        launcher.failed = True
        self._failed[launcher.key] = time.monotonic() + self.failure_ttl
        self._retire(launcher)

    def discard(self, launcher: Launcher) -> None:
        """Forget a launcher that is gone."""
        if self._current.get(launcher.key) is launcher:
            del self._current[launcher.key]
        if launcher in self._retired:
            self._retired.remove(launcher)

    def retire_all(self, which: Callable[[Launcher], bool]) -> None:
        """No new tries for these launchers: they stop once their tries ended."""
        for launcher in list(self._current.values()):
            if which(launcher):
                self._retire(launcher)

    def _retire(self, launcher: Launcher) -> None:
        if self._current.get(launcher.key) is launcher:
            del self._current[launcher.key]
            self._retired.append(launcher)
        launcher.retired = True

    def to_stop(self) -> list[Launcher]:
        """The launchers to stop now: idle too long, too old, or retired and idle."""
        now = time.monotonic()
        if self._failed:
            self._failed = {key: until for key, until in self._failed.items() if until > now}
        found = []
        for launcher in self:
            if launcher.busy or launcher.stopping:
                continue
            if (
                launcher.retired
                or now - launcher.last_used > self.idle_timeout
                or now - launcher.created > self.max_age
            ):
                self._retire(launcher)
                found.append(launcher)
        return found
