"""The local executor's record of each process it watches, and how it signals and describes them.

A try's process is watched in one of several ways, depending on where it came from and what
happened since (``ChildKind``). The kind decides how its end is noticed and how its exit
status is known; everything else about a try (its channel, time limits, outcome) is the same.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import os
import select
import signal
from typing import Any

from tradewind.runner.protocol import LineChannel
from tradewind.runner.workload import CallbackWorkload, TaskWorkload

#: What a descriptor registered with the executor's selector belongs to (with the ``Child``).
CHANNEL = "channel"
EXIT = "exit"


class ChildKind(enum.Enum):
    #: Forked by the executor's process: reaped there (its pidfd says when it ended).
    DIRECT = "direct"
    #: Forked by a warm launcher, which reports its end and exit status.
    LAUNCHED = "launched"
    #: Its launcher died under it: it goes on, watched through a pidfd; exit status unknown.
    ORPHANED = "orphaned"
    #: Started by an executor that is gone, taken over after a restart: watched through a
    #: pidfd, its outcome read from its outcome file; its channel is the connection it makes
    #: to the home's supervisor socket when it next needs the scheduler.
    ADOPTED = "adopted"
    #: A connection from a try that another scheduler supervises: its questions are answered,
    #: nothing else.
    GUEST = "guest"


@dataclasses.dataclass(eq=False)
class Child:
    """A task, callback or guest process. ``pid`` is None while its launcher has not reported
    it started; ``launcher`` is set while the launcher that forked it runs."""

    kind: ChildKind
    pid: int | None
    channel: LineChannel | None
    started: float
    ti_id: int | None = None
    try_number: int = 0
    outcome_path: str | None = None
    label: str = ""
    workload: TaskWorkload | None = None
    callback: CallbackWorkload | None = None
    pidfd: int | None = None
    #: It said something over its channel (so it started).
    heard: bool = False
    #: Its outcome was reported.
    finished: bool = False
    #: Settled: it reports no more events (a released try: none at all).
    ended: bool = False
    released: bool = False
    kill_at: float | None = None
    terminate_at: float | None = None
    launcher: Any = None
    #: SIGTERM asked for before the pid was known: sent when it is.
    term_pending: bool = False

    @classmethod
    def for_try(
        cls,
        kind: ChildKind,
        pid: int | None,
        channel: LineChannel,
        started: float,
        workload: TaskWorkload,
    ) -> Child:
        return cls(
            kind,
            pid,
            channel,
            started,
            ti_id=workload.ti_id,
            try_number=workload.try_number,
            outcome_path=workload.outcome_path,
            label=workload.describe(),
            workload=workload,
        )

    @property
    def is_try(self) -> bool:
        return self.ti_id is not None and self.kind is not ChildKind.GUEST

    @property
    def closed(self) -> bool:
        return self.channel is None

    def describe(self) -> str:
        if self.callback is not None:
            return self.callback.describe()
        return self.label or f"process {self.pid}"


def open_pidfd(pid: int) -> int | None:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError:
        return None


def pidfd_ended(pidfd: int) -> bool:
    return bool(select.select([pidfd], [], [], 0)[0])


def kill_group(pid: int, sig: int) -> None:
    """Signal the process group of ``pid`` (the task and what it started), or just ``pid``."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def signal_through_pidfd(pidfd: int, pid: int, sig: int) -> None:
    """Signal a process that is not our child: through its pidfd (never a later process with
    its pid), then its process group while it still runs (a group outlives no member)."""
    try:
        signal.pidfd_send_signal(pidfd, sig)
    except OSError:  # ended already
        return
    if not pidfd_ended(pidfd):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)


def exit_text(status: int | None) -> str:
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
    return (
        f"the task process exited with code {os.WEXITSTATUS(status)} without reporting an outcome"
    )


def redirect_inherited_fds(keep: set[int]) -> None:
    """In a new child of the executor's process: point every descriptor it inherited, except
    ``keep`` and 0-2, at /dev/null.

    Tries outlive the scheduler now, so nothing of the scheduler's may stay open in them: a
    metastore connection held by an orphan keeps a killed scheduler's transaction (and its row
    locks) open on the server, and a held listening socket keeps its address taken. The
    descriptor numbers stay valid (objects of the parent that close them later close /dev/null).
    """
    try:
        listed = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in listed:
            if fd <= 2 or fd in keep or fd == devnull:
                continue
            # OSError: the descriptor listdir itself used, closed since.
            with contextlib.suppress(OSError):
                os.dup2(devnull, fd, inheritable=False)
    finally:
        os.close(devnull)
