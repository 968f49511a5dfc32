"""Which process a pid names: the pid and the process's start time, then a pidfd.

A pid alone is not an identity: once its process ended and was reaped, the kernel hands the
number to the next new process. A scheduler that restarts and finds "pid 4242" in a record
must not signal, or wait for, whatever runs as 4242 now. The start time the kernel keeps for
each process (field 22 of ``/proc/<pid>/stat``, in clock ticks since boot) tells the two
apart: a pid and a start time name one process, ever, until the machine reboots.

To hold on to a process once it is identified, ``open_pidfd`` opens a pidfd and checks the
identity again afterwards: the pidfd refers to the process that had the pid when it was
opened, and a process that is alive (with that start time) after the open was alive before
it, so the pidfd is that process's and no later one's. Signals sent through it, and the end
read from it, can never reach another process.

Linux only; elsewhere no identity can be read and ``of`` returns None.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime, timedelta

from tradewind.sdk import timezone

#: Process states of ``/proc/<pid>/stat`` that mean the process has ended (zombie, dead).
_ENDED_STATES = {"Z", "X", "x"}


def _read_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in ticks) of a process, or None when there is none with this pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return fields[0].decode("ascii", "replace"), int(fields[19])
    except (IndexError, ValueError):
        return None


@dataclasses.dataclass(frozen=True)
class ProcessIdentity:
    """One process: its pid and its start time in clock ticks after boot."""

    pid: int
    start_ticks: int

    @classmethod
    def of(cls, pid: int) -> ProcessIdentity | None:
        """The identity of the process running as ``pid`` now; None if none runs (or it ended)."""
        found = _read_stat(pid)
        if found is None or found[0] in _ENDED_STATES:
            return None
        return cls(pid, found[1])

    @classmethod
    def of_self(cls) -> ProcessIdentity | None:
        return cls.of(os.getpid())

    def alive(self) -> bool:
        """Whether this very process still runs (not a later one that reuses the pid)."""
        found = _read_stat(self.pid)
        return found is not None and found[0] not in _ENDED_STATES and found[1] == self.start_ticks

    def owned_by_this_user(self) -> bool:
        """Whether the process runs as this process's user (only those are ours to adopt)."""
        try:
            return os.stat(f"/proc/{self.pid}").st_uid == os.getuid()
        except OSError:
            return False

    def open_pidfd(self) -> int | None:
        """A pidfd of this process, or None when it has ended (or pidfds are not available)."""
        opener = getattr(os, "pidfd_open", None)
        if opener is None or not self.alive():
            return None
        try:
            pidfd = int(opener(self.pid))
        except OSError:
            return None
        if not self.alive():  # ended (and maybe replaced) between the check and the open
            os.close(pidfd)
            return None
        return pidfd

    def started_at(self) -> datetime | None:
        """When the process started (wall clock, from the boot time and its start ticks)."""
        try:
            with open("/proc/stat", "rb") as handle:
                boot = next(int(line.split()[1]) for line in handle if line.startswith(b"btime "))
            ticks = os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, StopIteration, IndexError):
            return None
        return datetime.fromtimestamp(boot, tz=timezone.UTC) + timedelta(
            seconds=self.start_ticks / ticks
        )

    def describe(self) -> str:
        return f"process {self.pid}"
