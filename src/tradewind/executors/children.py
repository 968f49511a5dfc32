"""The supervisor's record of each process it watches, and how it signals and describes them.

A try's process is watched in one of several ways, depending on where it came from and what
happened since (``ChildKind``). The kind decides how its end is noticed and how its exit
status is known; everything else about a try (its channel, time limits, outcome) is the same.
Where a child is in its life is its ``ChildPhase``, changed only by the methods of ``Child``.
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


class ChildPhase(enum.Enum):
    """Where a child is in its life. The usual path is RUNNING -> (FINISHED) -> REAPED;
    LAUNCHING comes first for a try sent to a launcher; STOPPING and KILLED when it is
    stopped (``terminate``, ``execution_timeout``, ``end``); RELEASED when another scheduler
    took it over."""

    #: Sent to a launcher that has not said it forked it: no pid yet.
    LAUNCHING = "launching"
    RUNNING = "running"
    #: SIGTERM sent (or, while LAUNCHING, to be sent once the pid is known); SIGKILL at
    #: ``kill_at``.
    STOPPING = "stopping"
    #: SIGKILL sent.
    KILLED = "killed"
    #: It reported its outcome; its process is ending.
    FINISHED = "finished"
    #: Supervised by another scheduler now: reaped silently, no event.
    RELEASED = "released"
    #: Settled: it reports no more events.
    REAPED = "reaped"


#: The phases in which a child may still be stopped.
STOPPABLE = frozenset({ChildPhase.LAUNCHING, ChildPhase.RUNNING, ChildPhase.FINISHED})


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
    phase: ChildPhase = ChildPhase.RUNNING
    #: It said something over its channel (so it started).
    heard: bool = False
    kill_at: float | None = None
    terminate_at: float | None = None
    launcher: Any = None
    #: Its ``TaskFinished``, held while its launcher has not yet said it started it (under
    #: load the try can end before that message is read): sent right after its start.
    held_finish: Any = None

    # -- transitions ------------------------------------------------------------------------
    def forked(self, pid: int) -> bool:
        """Its launcher forked it as ``pid``; True when a SIGTERM waits for it."""
        self.pid = pid
        if self.phase is ChildPhase.LAUNCHING:
            self.phase = ChildPhase.RUNNING
            return False
        return self.phase in (ChildPhase.STOPPING, ChildPhase.KILLED)

    def stopping(self, kill_at: float) -> None:
        """SIGTERM sent (or due once forked); SIGKILL at ``kill_at``."""
        if self.phase in (ChildPhase.LAUNCHING, ChildPhase.RUNNING):
            self.phase = ChildPhase.STOPPING
        self.kill_at = kill_at

    def killed(self) -> None:
        if self.phase is ChildPhase.STOPPING:
            self.phase = ChildPhase.KILLED
        self.kill_at = self.terminate_at = None

    def finish(self) -> bool:
        """It reported its outcome: True the first time (then an event is due)."""
        if self.phase in (ChildPhase.FINISHED, ChildPhase.RELEASED, ChildPhase.REAPED):
            return False
        self.phase = ChildPhase.FINISHED
        return True

    def release(self) -> None:
        self.phase = ChildPhase.RELEASED
        self.kill_at = self.terminate_at = None

    def reap(self) -> ChildPhase | None:
        """Settle it: the phase it was in, or None when it was settled already."""
        if self.phase is ChildPhase.REAPED:
            return None
        before, self.phase = self.phase, ChildPhase.REAPED
        return before

    # -- questions --------------------------------------------------------------------------
    @property
    def ended(self) -> bool:
        return self.phase is ChildPhase.REAPED

    @property
    def released(self) -> bool:
        return self.phase is ChildPhase.RELEASED

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
            phase=ChildPhase.RUNNING if pid is not None else ChildPhase.LAUNCHING,
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
