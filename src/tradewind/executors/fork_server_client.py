"""The executor's side of the fork server (``runner.fork_server``): start it, ask it for
launchers, hear of their ends.

The server starts in the background the first time a launcher is needed; until it says it is
ready (a fraction of a second), launchers are forked from the executor's own process as
before, so no try waits for it. A server that dies or stops answering is replaced, at most
once per ``RESTART_AFTER`` seconds; meanwhile launchers are forked here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import subprocess
import time
from typing import Any

from tradewind.runner import fork_server, launcher_process

log = logging.getLogger("tradewind.executor")

#: Seconds to wait for the server's answer to a spawn request before giving up on it.
SPAWN_TIMEOUT = 5.0
#: Seconds to wait for the server's report of how a launcher that ended ended.
STATUS_WAIT = 0.2
#: Seconds after a server failed before another is started.
RESTART_AFTER = 30.0
#: Exit statuses of launchers kept for the executor to collect (older ones are dropped).
MAX_STATUSES = 1024


def supported() -> bool:
    return (
        hasattr(os, "memfd_create")
        and hasattr(os, "pidfd_open")
        and hasattr(signal, "pidfd_send_signal")
        and hasattr(socket, "send_fds")
    )


class ForkServerError(OSError):
    """The fork server did not spawn a launcher."""


class ForkServer:
    """One fork server process, as the executor sees it."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self.ready = False
        self.failed_at: float | None = None
        self._statuses: dict[int, int] = {}

    @property
    def running(self) -> bool:
        return self.proc is not None

    def can_start(self) -> bool:
        return self.proc is None and (
            self.failed_at is None or time.monotonic() - self.failed_at > RESTART_AFTER
        )

    def start(self) -> socket.socket:
        """Start it (not waiting for it); the socket to watch for its messages."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                fork_server.command(theirs.fileno(), os.getpid()),
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        except OSError:
            ours.close()
            self.failed_at = time.monotonic()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self.sock = ours
        self.ready = False
        log.info("Started the fork server (process %d)", self.proc.pid)
        return ours

    def on_readable(self) -> bool:
        """Read what it sent; False when it is gone (then ``stop`` it)."""
        for message in self._receive_all():
            if message is None:
                return False
            self._note(message)
        return True

    def spawn(
        self,
        fileloc: str,
        dag_id: str,
        source_code: str,
        launcher_fd: int,
        *,
        home_key: str | None = None,
    ) -> tuple[int, int]:
        """A new launcher on ``launcher_fd`` (its tries get ``home_key``): (pid, pidfd).
        ``ForkServerError`` when the server could not; it is then stopped (``failed_at`` set)."""
        assert self.sock is not None
        source_fd = os.memfd_create("tradewind-dag-source", os.MFD_CLOEXEC)
        try:
            os.write(source_fd, source_code.encode("utf-8"))
            launcher_process.send(
                self.sock, ("spawn", fileloc, dag_id, home_key), [launcher_fd, source_fd]
            )
        except OSError as exc:
            self._fail(f"could not send it a request: {exc}")
        finally:
            os.close(source_fd)
        deadline = time.monotonic() + SPAWN_TIMEOUT
        while True:
            spawned: tuple[int, int] | None = None
            refused: str | None = None
            ended = False
            for message, fds in self._receive_with_fds(deadline):
                if message is None:
                    ended = True
                elif (
                    spawned is None
                    and refused is None
                    and message[0] == "spawned"
                    and len(fds) == 1
                ):
                    spawned = (int(message[1]), fds[0])
                    continue
                elif spawned is None and refused is None and message[0] == "spawn_failed":
                    refused = str(message[1])
                else:
                    self._note(message)
                for fd in fds:
                    os.close(fd)
            if spawned is not None:
                return spawned
            if refused is not None:
                raise ForkServerError(f"the fork server could not start a launcher: {refused}")
            if ended:
                self._fail("it ended")
            if time.monotonic() >= deadline:
                self._fail(f"no answer in {SPAWN_TIMEOUT:g} s")

    def exit_status(self, pid: int, *, wait: float = STATUS_WAIT) -> int | None:
        """The status of a launcher it forked, which has ended: the server reaps it and says
        so at once, but its message may come just after the launcher's pidfd said it ended."""
        deadline = time.monotonic() + wait
        while pid not in self._statuses and self.sock is not None:
            if not self.on_readable():  # it is gone: the executor's selector says so too
                break
            remaining = deadline - time.monotonic()
            if pid in self._statuses or remaining <= 0:
                break
            select.select([self.sock], [], [], remaining)
        return self._statuses.pop(pid, None)

    def stop(self, *, failed: bool = False) -> None:
        """Close our end (it exits on reading that) and reap it."""
        if failed:
            self.failed_at = time.monotonic()
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.ready = False
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close_in_child(self) -> None:
        """In a process forked from the executor: drop our descriptor of the server."""
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()

    def _fail(self, why: str) -> Any:
        log.warning(
            "The fork server failed (%s); launchers are forked by the executor for a while", why
        )
        if self.proc is not None:
            self.proc.kill()
        self.stop(failed=True)
        raise ForkServerError(f"the fork server failed: {why}")

    def _note(self, message: tuple[Any, ...]) -> None:
        if message[0] == "ready":
            self.ready = True
        elif message[0] == "exited":
            if len(self._statuses) >= MAX_STATUSES:
                self._statuses.clear()
            self._statuses[int(message[1])] = message[2]

    def _receive_all(self) -> list[tuple[Any, ...] | None]:
        """What is waiting (None for the end of the stream), without descriptors: only a spawn
        answer carries one."""
        found = []
        for message, fds in self._drain():
            for fd in fds:
                os.close(fd)
            found.append(message)
        return found

    def _receive_with_fds(self, deadline: float) -> list[tuple[tuple[Any, ...] | None, list[int]]]:
        """Wait until something arrives (or the deadline), then read it all."""
        assert self.sock is not None
        select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
        return self._drain()

    def _drain(self) -> list[tuple[tuple[Any, ...] | None, list[int]]]:
        """Every message waiting with its descriptors;
        ``(None, [])`` ends it at the end of the stream."""
        found: list[tuple[tuple[Any, ...] | None, list[int]]] = []
        while self.sock is not None:
            try:
                message, fds = launcher_process.receive(self.sock)
            except BlockingIOError:
                break
            except OSError:
                found.append((None, []))
                break
            found.append((message, fds))
            if message is None:
                break
        return found
