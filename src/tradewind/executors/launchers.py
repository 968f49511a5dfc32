"""Warm launchers, seen from the executor: processes that fork tries.

A version's own launcher (``runner.launcher_process``) has loaded that DAG version's source,
so a try it forks starts with the DAG built instead of executing the file again. This module
keeps them: at most ``max_launchers`` (least recently used retired first), each stopped once
idle for ``idle_timeout`` seconds and retired (no new tries; stopped when its tries end) after
``max_age`` seconds, so helper modules beside a DAG file that changed on disk are picked up
again (one retired for its age while in use is replaced at once, so a version run now and then
finds its launcher warm). A version whose source the launcher could not load is not tried again for
``failure_ttl`` seconds: its tries are forked directly and report the load error themselves.

More versions at work than ``max_launchers`` (a thousand DAGs on a tight schedule) must not
start a launcher per try, each replacing another still in use: a launcher is started for a
new version only while the pool has room, its least recently used launcher has been idle
``churn_guard`` seconds, or the version is in demand (``hot_tries`` tries within
``hot_window`` seconds) and that launcher has no try. Other tries go to the launcher of any
version, which forks them bare: each loads its own source, as a try forked directly does,
without the cost of a launcher started and stopped for it.

Launchers need Linux: ``pidfd_open`` (to reap them and their tries without polling) and
``SCM_RIGHTS`` over a ``SOCK_SEQPACKET`` socket pair. Elsewhere ``LauncherPool.enabled`` is
false and every try is forked directly.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import enum
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

from tradewind.runner import launcher_process
from tradewind.runner.messages import Launch, PacketMessage, Reap
from tradewind.runner.workload import TaskWorkload

log = logging.getLogger("tradewind.executor")

#: (dag_id, fileloc, source code): what a launcher has loaded.
LauncherKey = tuple[str, str, str]
#: The key of the launcher of any version (it loaded nothing).
ANY_VERSION: LauncherKey = ("", "", "")

MAX_LAUNCHERS = 8
IDLE_TIMEOUT = 600.0
MAX_AGE = 300.0
FAILURE_TTL = 60.0
CHURN_GUARD = 5.0
HOT_TRIES = 4
HOT_WINDOW = 10.0
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


class LauncherPhase(enum.Enum):
    """Where a launcher is in its life: LOADING -> READY -> RETIRED -> STOPPING -> GONE, or
    FAILED (its source did not load, or it died with work) before STOPPING or GONE."""

    #: Loading its DAG version: tries sent now wait until it is ready.
    LOADING = "loading"
    READY = "ready"
    #: Takes no new tries; stopped once it has none.
    RETIRED = "retired"
    #: Takes no new tries, for a while none of its version (``failure_ttl``).
    FAILED = "failed"
    #: Our end of its socket is closed: it exits.
    STOPPING = "stopping"
    #: Reaped: its descriptors are closed.
    GONE = "gone"


#: The phases in which a launcher takes new tries.
TAKING = frozenset({LauncherPhase.LOADING, LauncherPhase.READY})


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
    phase: LauncherPhase = LauncherPhase.LOADING
    #: It said it loaded its source (so it may have forked tries).
    loaded: bool = False
    #: Forked by the executor's process (which reaps it), not by the fork server.
    forked_here: bool = True
    pending: dict[int, Any] = dataclasses.field(default_factory=dict)
    running: dict[int, Any] = dataclasses.field(default_factory=dict)
    #: The try it was started for: what starting its replacement takes.
    first_workload: TaskWorkload | None = None
    #: Retired to be replaced (by one from the fork server) once it stops, if still in use.
    replace: bool = False

    @property
    def busy(self) -> bool:
        return bool(self.pending or self.running)

    @property
    def any_version(self) -> bool:
        """It loaded no version: its tries load their own source."""
        return self.key == ANY_VERSION

    @property
    def stopping(self) -> bool:
        """Stopped or gone: it reads nothing more of ours."""
        return self.phase in (LauncherPhase.STOPPING, LauncherPhase.GONE)

    @property
    def retired(self) -> bool:
        """It takes no new tries (retired, failed, stopping or gone)."""
        return self.phase not in TAKING

    @property
    def gone(self) -> bool:
        return self.phase is LauncherPhase.GONE

    # -- transitions ------------------------------------------------------------------------
    def ready(self) -> None:
        self.loaded = True
        if self.phase is LauncherPhase.LOADING:
            self.phase = LauncherPhase.READY

    def retire(self) -> None:
        if self.phase in TAKING:
            self.phase = LauncherPhase.RETIRED

    def fail(self) -> None:
        if not self.stopping:
            self.phase = LauncherPhase.FAILED

    def reaped(self) -> LauncherPhase | None:
        """It ended: the phase it was in, or None when that was known already."""
        if self.phase is LauncherPhase.GONE:
            return None
        before, self.phase = self.phase, LauncherPhase.GONE
        return before

    def describe(self) -> str:
        if self.any_version:
            return f"warm launcher {self.pid} of any DAG version"
        return f"warm launcher {self.pid} of DAG {self.key[0]}"

    def send_launch(self, workload: TaskWorkload, channel_fd: int) -> None:
        """Ask for one try; raises ``OSError`` (``BlockingIOError`` when its queue is full;
        "too large" when the source it must carry to a launcher of any version is)."""
        if not self.any_version:
            workload = dataclasses.replace(workload, source_code="")
        launcher_process.send(self.sock, Launch(workload), [channel_fd])
        self.last_used = time.monotonic()

    def send_reap(self, pid: int) -> None:
        """Let it reap a try whose end was settled (until then the pid cannot be reused)."""
        # (OSError: full or gone; the zombie goes with the launcher.)
        with contextlib.suppress(OSError):
            launcher_process.send(self.sock, Reap(pid))

    def receive_all(self) -> tuple[list[PacketMessage], bool]:
        """The messages waiting, and whether the launcher's end is closed (or unusable: it
        speaks another protocol version)."""
        messages: list[PacketMessage] = []
        while True:
            try:
                message, fds = launcher_process.receive(self.sock, what=self.describe())
            except BlockingIOError:
                return messages, False
            except OSError:
                return messages, True
            except ValueError as exc:
                log.error("%s", exc)
                return messages, True
            for fd in fds:  # a launcher sends none; never leak one
                os.close(fd)
            if message is None:
                return messages, True
            messages.append(message)

    def stop(self) -> None:
        """Close our end (unregister it first): the launcher exits when it reads the end."""
        if not self.gone:
            self.phase = LauncherPhase.STOPPING
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
        churn_guard: float = CHURN_GUARD,
        hot_tries: int = HOT_TRIES,
        hot_window: float = HOT_WINDOW,
        enabled: bool | None = None,
    ) -> None:
        self.max_launchers = max_launchers
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self.failure_ttl = failure_ttl
        self.churn_guard = churn_guard
        self.hot_tries = hot_tries
        self.hot_window = hot_window
        self.enabled = supported() if enabled is None else enabled
        self._current: collections.OrderedDict[LauncherKey, Launcher] = collections.OrderedDict()
        self._any: Launcher | None = None
        self._retired: list[Launcher] = []
        self._failed: dict[LauncherKey, float] = {}
        #: Versions without a launcher: when their latest tries were asked for.
        self._demand: dict[LauncherKey, collections.deque[float]] = {}
        #: Launchers stopped for their age while in use, to be replaced (``replace_aged``).
        self._replacements: list[Launcher] = []

    def __iter__(self) -> Iterator[Launcher]:
        yield from list(self._current.values())
        if self._any is not None:
            yield self._any
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
            if not launcher.loaded and now - launcher.created > LOAD_PATIENCE:
                return None
            self._current.move_to_end(key)
            return launcher
        if not self._room(now) and not (self._in_demand(key, now) and self._lru_idle()):
            return self._any_version(workload, spawn, now)
        self._demand.pop(key, None)
        while len(self._current) >= self.max_launchers:
            self._retire(next(iter(self._current.values())))
        launcher = spawn(workload)
        self._current[key] = launcher
        return launcher

    def _room(self, now: float) -> bool:
        """A new version's launcher may start: the pool is not full, or its least recently
        used launcher has been idle long enough to go."""
        if len(self._current) < self.max_launchers:
            return True
        oldest = next(iter(self._current.values()))
        return not oldest.busy and now - oldest.last_used >= self.churn_guard

    def _lru_idle(self) -> bool:
        """The least recently used launcher has no try: a version in demand may take its
        place (a busy one is not replaced, or a backlog of many versions churns them)."""
        return not self._current or not next(iter(self._current.values())).busy

    def _in_demand(self, key: LauncherKey, now: float) -> bool:
        """Note one more try of a version without a launcher; whether it has had
        ``hot_tries`` within ``hot_window`` seconds."""
        asked = self._demand.setdefault(key, collections.deque(maxlen=self.hot_tries))
        asked.append(now)
        return len(asked) >= self.hot_tries and now - asked[0] <= self.hot_window

    def _any_version(
        self, workload: TaskWorkload, spawn: Callable[[TaskWorkload], Launcher], now: float
    ) -> Launcher | None:
        """The launcher of any version (started when needed), or None: fork directly."""
        failed_until = self._failed.get(ANY_VERSION)
        if failed_until is not None and now < failed_until:
            return None
        launcher = self._any
        if launcher is not None and launcher.phase in TAKING:
            if not launcher.loaded and now - launcher.created > LOAD_PATIENCE:
                return None
            return launcher
        launcher = self._any = spawn(
            dataclasses.replace(workload, dag_id="", fileloc="", source_code="")
        )
        return launcher

    def note_failed(self, launcher: Launcher) -> None:
        """Its source did not load (or it died): fork that version's tries directly for a while."""
        self._retire(launcher)
        launcher.fail()
        self._failed[launcher.key] = time.monotonic() + self.failure_ttl

    def discard(self, launcher: Launcher) -> None:
        """Forget a launcher that is gone."""
        if self._current.get(launcher.key) is launcher:
            del self._current[launcher.key]
        if self._any is launcher:
            self._any = None
        if launcher in self._retired:
            self._retired.remove(launcher)

    def retire_all(self, which: Callable[[Launcher], bool]) -> None:
        """No new tries for these launchers: they stop once their tries ended, and those in
        use are replaced then (``replace_aged``)."""
        for launcher in [*self._current.values(), *([self._any] if self._any else [])]:
            if which(launcher):
                launcher.replace = launcher.phase is LauncherPhase.READY
                self._retire(launcher)

    def _retire(self, launcher: Launcher) -> None:
        if self._current.get(launcher.key) is launcher:
            del self._current[launcher.key]
            self._retired.append(launcher)
        elif self._any is launcher:
            self._any = None
            self._retired.append(launcher)
        launcher.retire()

    def to_stop(self) -> list[Launcher]:
        """The launchers to stop now: idle too long, too old, or retired and idle."""
        now = time.monotonic()
        if self._failed:
            self._failed = {key: until for key, until in self._failed.items() if until > now}
        if self._demand:
            self._demand = {
                key: asked
                for key, asked in self._demand.items()
                if now - asked[-1] <= self.hot_window
            }
        found = []
        for launcher in self:
            if launcher.busy or launcher.stopping:
                continue
            idle = now - launcher.last_used > self.idle_timeout
            # (A launcher still loading is not old: LOAD_PATIENCE decides about it.)
            aged = launcher.loaded and now - launcher.created > self.max_age
            if launcher.phase not in TAKING or idle or aged:
                if (launcher.replace or launcher.phase is LauncherPhase.READY) and not idle:
                    self._replacements.append(launcher)
                self._retire(launcher)
                found.append(launcher)
        return found

    def replace_aged(self, spawn: Callable[[TaskWorkload], Launcher]) -> None:
        """Start the replacements of launchers stopped for their age (or, forked by the
        executor, once the fork server is ready) while still in use, so the next try of their
        version (an hourly DAG's next run) finds one warm."""
        aged, self._replacements = self._replacements, []
        for old in aged:
            workload = old.first_workload
            if workload is None or old.any_version or old.key in self._current:
                continue
            if len(self._current) >= self.max_launchers:
                return
            launcher = spawn(workload)
            launcher.last_used = old.last_used  # idle since then: it stops when that one would
            self._current[old.key] = launcher
