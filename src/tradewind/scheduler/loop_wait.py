"""What ends the scheduler's wait: its executor's events, a wake-up from another process
(``tradewind.wakeup``: the home's datagram, or on PostgreSQL a notification from any host), or
``stop()`` (often from a signal handler, through a socket pair so the wait ends at once).
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from tradewind import wakeup
from tradewind.db.listen import PgListener
from tradewind.executors.base import BaseExecutor, Event


@dataclasses.dataclass(frozen=True)
class WaitResult:
    events: list[Event]
    #: Another process asked for a look at everything.
    woken: bool
    #: The wait ended before its timeout (an event, a wake-up, the executor's own reasons).
    woke_early: bool


class LoopWaiter:
    """The loop's file descriptors: the wake-up listeners and the stop socket pair."""

    def __init__(self) -> None:
        self.listener: socket.socket | None = None
        self.notifications: PgListener | None = None
        self._reader: socket.socket | None = None
        self._writer: socket.socket | None = None

    def open(self, home: Path, engine: Engine | None = None) -> list[socket.socket | int]:
        """Open them; returns them all (the executor's children must not inherit them; the
        notification connection as a bare descriptor, which a child may close but must not
        end: ending it would end the parent's session)."""
        self.listener = wakeup.open_listener(home)
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        private: list[socket.socket | int] = [self._reader, self._writer]
        if self.listener is not None:
            private.append(self.listener)
        if engine is not None:
            notifications = PgListener(engine, wakeup.SCHEDULER_CHANNEL)
            descriptor = notifications.fileno()
            if descriptor is not None:
                self.notifications = notifications
                private.append(descriptor)
        return private

    def poke(self) -> None:
        """End the current wait at once (safe in a signal handler)."""
        writer = self._writer
        if writer is not None:
            with contextlib.suppress(OSError):
                writer.send(b"!")

    def wait(self, executor: BaseExecutor, timeout: float) -> WaitResult:
        reader, listener, notifications = self._reader, self.listener, self.notifications
        extra: list[Any] = [fd for fd in (reader, listener) if fd is not None]
        if notifications is not None and notifications.active:
            extra.append(notifications)
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
        if notifications is not None and notifications in readable:
            notifications.drain()
            woken = True
        return WaitResult(events, woken, woke_early)

    def close(self) -> None:
        for end in (self.listener, self._reader, self._writer):
            if end is not None:
                end.close()
        self.listener = self._reader = self._writer = None
        if self.notifications is not None:
            self.notifications.close()
            self.notifications = None
