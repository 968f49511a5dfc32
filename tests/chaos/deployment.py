"""Tradewind processes started for a chaos run, each in its own session, with this process as
their reaper.

This process makes itself a child subreaper (``PR_SET_CHILD_SUBREAPER``): a process whose
parent was killed (a try whose launcher died, a fork server whose scheduler died) is handed to
it, not to init, so everything the run started stays below it and is found by walking its
own tree. It reaps every child itself (``waitpid(-1)``), those it started and those handed to
it, and keeps their exit statuses.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.chaos import process_tree
from tests.chaos.process_tree import Identity

TRADEWIND = str(Path(sys.executable).with_name("tradewind"))
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def describe_status(status: int | None) -> str:
    if status is None:
        return "running"
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.WEXITSTATUS(status)}"


@dataclasses.dataclass
class Started:
    """One process this run started (``role`` scheduler, dag_processor, ...; ``number``: its
    incarnation)."""

    role: str
    number: int
    popen: subprocess.Popen[bytes]
    identity: Identity
    log_path: Path
    started_at: float
    status: int | None = None
    ended_at: float | None = None
    #: What this run did to end it: "kill", "term" (a graceful stop), "stop" (the final stop).
    ended_by: str | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.status is None

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "number": self.number,
            "pid": self.pid,
            "start": self.identity[1],
            "log": str(self.log_path),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "ended_by": self.ended_by,
            "exit": describe_status(self.status),
            "exit_code": None
            if self.status is None
            else (
                -os.WTERMSIG(self.status)
                if os.WIFSIGNALED(self.status)
                else os.WEXITSTATUS(self.status)
            ),
        }


class Deployment:
    """The environment of a Tradewind home, and the processes started on it."""

    def __init__(self, env: dict[str, str], log_folder: Path) -> None:
        self.env = env
        self.log_folder = log_folder
        log_folder.mkdir(parents=True, exist_ok=True)
        self.started: list[Started] = []
        self._numbers: dict[str, int] = {}
        #: Exit statuses of processes handed to this one (orphans), by how they ended.
        self.orphan_exits: dict[str, int] = {}

    def start(self, role: str, *args: str) -> Started:
        number = self._numbers.get(role, 0) + 1
        self._numbers[role] = number
        log_path = self.log_folder / f"{role}-{number}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                [TRADEWIND, *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = process_tree.read(popen.pid)
        identity = (popen.pid, proc.start if proc is not None else -1)
        started = Started(role, number, popen, identity, log_path, time.time())
        self.started.append(started)
        return started

    def run(self, *args: str, timeout: float = 120) -> Started:
        """Start a command and wait for it to end."""
        started = self.start("cli", *args)
        deadline = time.monotonic() + timeout
        while started.running:
            if time.monotonic() > deadline:
                self.signal(started, signal.SIGKILL, "kill")
                raise TimeoutError(f"tradewind {' '.join(args)} did not end in {timeout} s")
            self.reap()
            time.sleep(0.05)
        return started

    def signal(self, started: Started, sig: int, ended_by: str) -> None:
        if started.running:
            started.ended_by = started.ended_by or ended_by
            os.kill(started.pid, sig)  # our own unreaped child: the pid cannot be another process

    def reap(self) -> None:
        """Collect every child that ended: started ones get their status, orphans are counted."""
        by_pid = {started.pid: started for started in self.started if started.running}
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            started = by_pid.get(pid)
            if started is None:
                how = describe_status(status)
                self.orphan_exits[how] = self.orphan_exits.get(how, 0) + 1
                continue
            started.status = status
            started.ended_at = time.time()
            started.popen.returncode = (
                -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            )

    def running(self, role: str) -> Started | None:
        for started in reversed(self.started):
            if started.role == role and started.running:
                return started
        return None

    def wait_ended(self, started: Started, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while started.running and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.05)
        return not started.running

    def kill_everything(self) -> None:
        """SIGKILL whatever is still below this process, and reap it."""
        for _ in range(20):
            self.reap()
            tree = process_tree.snapshot(os.getpid())
            if not tree.procs:
                break
            for proc in tree.procs.values():
                if proc.alive:
                    process_tree.kill(proc.identity)
            time.sleep(0.05)
        self.reap()
