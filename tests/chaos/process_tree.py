"""The processes below one process, read from /proc: never a scan of the whole system.

A process is known by its pid and its start time (``/proc/<pid>/stat`` field 22, clock ticks
since boot): pids are reused (``pid_max`` may be 32768), a (pid, start) pair is not. Children
come from ``/proc/<pid>/task/<tid>/children`` of every thread.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path

Identity = tuple[int, int]


@dataclasses.dataclass(frozen=True)
class Proc:
    pid: int
    start: int
    ppid: int
    state: str

    @property
    def identity(self) -> Identity:
        return (self.pid, self.start)

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def read(pid: int) -> Proc | None:
    """The process ``pid`` now, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text.rsplit(")", 1)[1].split()
    return Proc(pid=pid, start=int(fields[19]), ppid=int(fields[1]), state=fields[0])


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in threads:
        try:
            found.extend(
                int(part) for part in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
            )
        except OSError:
            continue
    return found


@dataclasses.dataclass
class Tree:
    """A snapshot of the processes below ``root`` (``root`` itself not included)."""

    root: int
    procs: dict[int, Proc]
    kids: dict[int, list[int]]

    def below(self, pid: int) -> list[Proc]:
        """``pid`` and every process under it, parents first."""
        if pid not in self.procs:
            return []
        found, queue = [], [pid]
        while queue:
            current = queue.pop(0)
            found.append(self.procs[current])
            queue.extend(self.kids.get(current, []))
        return found


def snapshot(root: int) -> Tree:
    procs: dict[int, Proc] = {}
    kids: dict[int, list[int]] = {}
    queue = [root]
    while queue:
        parent = queue.pop()
        for child in children(parent):
            proc = read(child)
            if proc is None or child in procs:
                continue
            procs[child] = proc
            kids.setdefault(parent, []).append(child)
            queue.append(child)
    return Tree(root, procs, kids)


def kill(identity: Identity, sig: int = signal.SIGKILL) -> bool:
    """Send ``sig`` to the process with this identity, if it is still that process (a pidfd
    makes the check and the signal one: a pid used again in between is never hit)."""
    pid, start = identity
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        proc = read(pid)
        if proc is None or proc.start != start or not proc.alive:
            return False
        signal.pidfd_send_signal(pidfd, sig)
        return True
    except OSError:
        return False
    finally:
        os.close(pidfd)
