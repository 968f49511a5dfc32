"""What ends the scheduler's wait: its executor's events, a wake-up from another process
(``tradewind.wakeup``), or ``stop()`` (often from a signal handler, through a socket pair so
the wait ends at once).
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import time
from pathlib import Path

from tradewind import wakeup
from tradewind.executors.base import BaseExecutor, Event


@dataclasses.dataclass(frozen=True)
class WaitResult:
    events: list[Event]
    #: Another process asked for a look at everything.
    woken: bool
    #: The wait ended before its timeout (an event, a wake-up, the executor's own reasons).
    woke_early: bool


class LoopWaiter:
    """The loop's file descriptors: the wake-up listener and the stop socket pair."""

    def __init__(self) -> None:
        self.listener: socket.socket | None = None
        self._reader: socket.socket | None = None
        self._writer: socket.socket | None = None

    def open(self, home: Path) -> list[socket.socket]:
        """Open them; returns them all (the executor's children must not inherit them)."""
        self.listener = wakeup.open_listener(home)
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        return [self._reader, self._writer] + ([self.listener] if self.listener else [])

    def poke(self) -> None:
        """End the current wait at once (safe in a signal handler)."""
        writer = self._writer
        if writer is not None:
            with contextlib.suppress(OSError):
                writer.send(b"!")

    def wait(self, executor: BaseExecutor, timeout: float) -> WaitResult:
        reader, listener = self._reader, self.listener
        extra = [fd for fd in (reader, listener) if fd is not None]
        waited_from = time.monotonic()
        events, readable = executor.wait(timeout, extra)
        # The executor also wakes for its own reasons (a reaped process, a reply to a launch)
        # that bring no event: those need no pass.
        woke_early = time.monotonic() - waited_from < timeout - 0.001
        if reader is not None and reader in readable:
            wakeup.drain(reader)
        woken = False
        if listener is not None and listener in readable:
            wakeup.drain(listener)
            woken = True
        return WaitResult(events, woken, woke_early)

    def close(self) -> None:
        for end in (self.listener, self._reader, self._writer):
            if end is not None:
                end.close()
        self.listener = self._reader = self._writer = None
