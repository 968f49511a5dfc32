"""A deployment of separate long-running processes (API server, scheduler, DAG processor,
workers), as opposed to one ``standalone`` process tree.

Each process is started in a session of its own (``procs.start_session``) with its output in
a file of its own: a worker writing to a pipe nobody reads blocks once the pipe is full.
Readiness of a process that has no endpoint (a Celery worker) is a line in that file.
Stopping goes in reverse start order (workers before the API server they report to), each
session signalled, waited for, then killed pid by pid: nothing outside the sessions is touched.
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench import procs
from bench.figures import BenchError


@dataclasses.dataclass
class Member:
    """One process of the deployment: its role name, its session's leader, its output file."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path


class Deployment:
    """The processes of one deployment, started and stopped together."""

    def __init__(self, log_folder: Path) -> None:
        self.log_folder = log_folder
        self.members: list[Member] = []

    def start(self, name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> Member:
        log_path = self.log_folder / f"{name}.log"
        log_path.unlink(missing_ok=True)
        proc = procs.start_session(argv, env=env, log_path=log_path, cwd=cwd)
        member = Member(name, proc, log_path)
        self.members.append(member)
        return member

    def check_alive(self, what: str) -> None:
        """``BenchError`` naming the first process that exited, with the end of its output."""
        for member in self.members:
            if member.proc.poll() is not None:
                last = procs.tail(member.log_path, 1).strip() or "no output"
                raise BenchError(
                    f"{what}: {member.name} exited with code {member.proc.returncode} ({last}); "
                    f"its output: {member.log_path}\n{procs.tail(member.log_path)}"
                )

    def wait_for_lines(self, prefix: str, text: str, timeout: float, what: str) -> None:
        """Wait until every process whose name starts with ``prefix`` wrote ``text`` (every
        process is checked alive meanwhile)."""
        deadline = time.monotonic() + timeout
        waiting = [member for member in self.members if member.name.startswith(prefix)]
        while True:
            self.check_alive(what)
            waiting = [member for member in waiting if text not in _output(member)]
            if not waiting:
                return
            if time.monotonic() > deadline:
                member = waiting[0]
                raise BenchError(
                    f"{what}: {member.name} did not write {text!r} within {timeout:g} s; last "
                    f"lines of {member.log_path}:\n{procs.tail(member.log_path)}"
                )
            time.sleep(0.1)

    def count_lines(self, text: str, prefix: str) -> dict[str, int]:
        """Lines holding ``text`` in the output of each process whose name starts with
        ``prefix``."""
        return {
            member.name: sum(text in line for line in _output(member).splitlines())
            for member in self.members
            if member.name.startswith(prefix)
        }

    def stop(self, grace: float = 30.0) -> None:
        for member in reversed(self.members):
            procs.stop_session(member.proc, grace=grace)
        self.members.clear()


def _output(member: Member) -> str:
    """What ``member`` wrote so far."""
    try:
        return member.log_path.read_text(errors="replace")
    except OSError:
        return ""
