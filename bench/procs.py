"""Process trees: start a server in its own session, measure it, stop all of it.

A server (``tradewind standalone``, ``airflow standalone``) is started with
``start_new_session=True``, so its session id is its pid and every process it forks or spawns
(scheduler, DAG processor, task processes that moved to their own process group) is found
by that session id in ``/proc``. Stopping sends SIGTERM to the group, waits, then SIGKILLs
whatever is left in the session, pid by pid: nothing outside the session is touched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.figures import BenchError

MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def session_pids(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        # fields[0] is the state, fields[3] the session id.
        if fields is not None and fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(entry))
    return sorted(pids)


@dataclasses.dataclass(frozen=True)
class Memory:
    """Resident memory of a set of processes: RSS summed (shared pages counted once per
    process, the figure ``ps`` users add up) and PSS (shared pages split between sharers)."""

    processes: int
    rss_bytes: int
    pss_bytes: int

    @property
    def rss_mib(self) -> float:
        return self.rss_bytes / MIB

    @property
    def pss_mib(self) -> float:
        return self.pss_bytes / MIB


def _kib_field(path: Path, name: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def memory_of(pids: Sequence[int]) -> Memory:
    rss = pss = 0
    for pid in pids:
        rss += _kib_field(Path(f"/proc/{pid}/status"), "VmRSS")
        pss += _kib_field(Path(f"/proc/{pid}/smaps_rollup"), "Pss")
    return Memory(len(pids), rss, pss)


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time consumed so far by ``pids`` (children already reaped count
    towards their parent's cumulative fields, so a forked task's CPU is not lost)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            # utime, stime, cutime, cstime are fields 14-17 of /proc/PID/stat (1-based).
            total += sum(int(value) for value in fields[11:15])
    return total / ticks


def start_session(
    argv: Sequence[str], *, env: Mapping[str, str], log_path: Path, cwd: Path
) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def stop_session(proc: subprocess.Popen[bytes], *, grace: float = 20.0) -> float:
    """SIGTERM the server's group, wait up to ``grace`` s for the whole session to end, then
    SIGKILL what is left. Returns the seconds the orderly stop took."""
    started = time.monotonic()
    sid = proc.pid
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sid, signal.SIGTERM)
    deadline = started + grace
    while time.monotonic() < deadline:
        proc.poll()
        if proc.returncode is not None and not session_pids(sid):
            return time.monotonic() - started
        time.sleep(0.05)
    for pid in session_pids(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    return time.monotonic() - started


@dataclasses.dataclass(frozen=True)
class Timed:
    seconds: float
    returncode: int
    stdout: str
    stderr: str


def run_timed(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float,
    cwd: Path | None = None,
    what: str = "",
) -> Timed:
    """Run a command to completion and time it (wall clock, process start to exit)."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            list(argv),
            env=None if env is None else dict(env),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{what or argv[0]}: no exit within {timeout:g} s (timed out)") from exc
    return Timed(time.perf_counter() - started, done.returncode, done.stdout, done.stderr)


def run_checked(argv: Sequence[str], *, env: Mapping[str, str], timeout: float, what: str) -> Timed:
    """``run_timed``, and a ``BenchError`` with the end of its error output if it failed."""
    done = run_timed(argv, env=env, timeout=timeout, what=what)
    if done.returncode != 0:
        raise BenchError(f"{what} exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return done


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
