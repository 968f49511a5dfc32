"""The local executor's side of adoption: finding the tries of its home that outlived their
executor, supervising them, and taking them back when they reconnect (see ``runner.beacons``).

An adopted try (``children.ChildKind.ADOPTED``) is watched through a pidfd opened from its
identity (pid and start time), so its end is seen however it ends; its outcome is read from
its outcome file unless it reported it over its new connection. Its questions are answered
once it connects to the home's supervisor socket, which this executor holds when no other
executor of the home does. A try that connects before it was adopted, or that another
scheduler adopted, is served as a guest: answered, nothing more.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import socket
import time
from typing import TYPE_CHECKING, Any, cast

from tradewind.executors import supervision
from tradewind.executors.base import Event
from tradewind.executors.children import (
    CHANNEL,
    EXIT,
    Child,
    ChildKind,
    signal_through_pidfd,
)
from tradewind.runner import beacons
from tradewind.runner.process_identity import ProcessIdentity
from tradewind.runner.protocol import ChannelClosed, LineChannel

log = logging.getLogger("tradewind.executor")

SUPERVISOR = "supervisor"
HELLO = "hello"


class AdoptionSide:
    """The part of ``LocalExecutor`` that adopts tries and serves the supervisor socket."""

    timeout_grace: float
    _children: dict[int, Child]
    _guests: set[Child]
    _released: set[Child]
    _hellos: set[supervision.PendingHello]
    _selector: selectors.BaseSelector
    _home_key: str | None
    _supervisor: supervision.SupervisorSocket | None

    if TYPE_CHECKING:  # provided by LocalExecutor

        def _watched(self) -> list[Child]: ...
        def _close_channel(self, child: Child) -> None: ...
        def _unregister(self, fileobj: Any) -> None: ...
        def _finalize(
            self, child: Child, status: int | None, *, reason: str | None = None
        ) -> list[Event]: ...

    def orphans(self) -> dict[tuple[int, int], ProcessIdentity]:
        if self._home_key is None:
            return {}
        self._listen()  # another executor of this home may have held the socket until now
        mine = {child.pid for child in self._watched() if child.pid is not None}
        return {
            key: identity
            for key, identity in beacons.live_tries(self._home_key).items()
            if identity.pid not in mine
        }

    def adopt(
        self,
        ti_id: int,
        try_number: int,
        identity: ProcessIdentity,
        *,
        outcome_path: str | None,
        label: str,
        time_left: float | None = None,
    ) -> bool:
        child = self._children.get(ti_id)
        if child is not None:
            return child.pid == identity.pid and child.try_number == try_number
        pidfd = identity.open_pidfd()
        if pidfd is None:
            return False
        child = Child(
            ChildKind.ADOPTED,
            identity.pid,
            None,
            time.monotonic(),
            ti_id=ti_id,
            try_number=try_number,
            outcome_path=outcome_path,
            label=label,
            pidfd=pidfd,
        )
        if time_left is not None:
            child.terminate_at = child.started + max(0.0, time_left) + self.timeout_grace
        self._children[ti_id] = child
        self._selector.register(pidfd, selectors.EVENT_READ, (EXIT, child))
        for guest in list(self._guests):  # it reconnected before it was adopted
            if guest.ti_id == ti_id and guest.pid == identity.pid and guest.channel is not None:
                self._guests.discard(guest)
                self._unregister(guest.channel.sock)
                self._attach(child, guest.channel)
        log.info(
            "Adopted %s (process %d), started by an executor that is gone", label, identity.pid
        )
        return True

    def disown(self, identity: ProcessIdentity, reason: str) -> None:
        pidfd = identity.open_pidfd()
        if pidfd is None:
            return
        try:
            log.warning("Stopping process %d: %s", identity.pid, reason)
            signal_through_pidfd(pidfd, identity.pid, signal.SIGTERM)
        finally:
            os.close(pidfd)

    def release(self, ti_id: int) -> None:
        child = self._children.pop(ti_id, None)
        if child is None:
            return
        log.warning(
            "%s was taken over by another scheduler: no longer supervised here", child.describe()
        )
        child.released = True
        child.kill_at = child.terminate_at = None
        self._close_channel(child)  # its questions go to the home's supervisor socket now
        if child.kind is ChildKind.ADOPTED or (
            child.kind is ChildKind.ORPHANED and child.pidfd is None
        ):
            self._finalize(child, None)
        else:
            self._released.add(child)  # reaped when it ends, silently

    def _listen(self) -> None:
        if (
            self._supervisor is not None
            and self._supervisor.sock is None
            and self._supervisor.listen()
        ):
            # listen() opened the socket; mypy still holds the `sock is None` narrowing above.
            sock = cast(socket.socket, self._supervisor.sock)
            self._selector.register(sock, selectors.EVENT_READ, (SUPERVISOR, self._supervisor))

    def _attach(self, child: Child, channel: LineChannel) -> None:
        child.channel = channel
        self._selector.register(channel.sock, selectors.EVENT_READ, (CHANNEL, child))

    def _on_hello(self, hello: supervision.PendingHello) -> None:
        """A try that lost its scheduler says which it is: take it, as adopted or as a guest."""
        claim: supervision.ResumeClaim | str
        try:
            message = supervision.read_hello(hello)
        except (ChannelClosed, ValueError):
            message, claim = None, "unreadable"
        else:
            if message is None:
                return
            assert self._home_key is not None
            claim = supervision.check_claim(self._home_key, hello, message)
        self._hellos.discard(hello)
        self._unregister(hello.channel.sock)
        if isinstance(claim, str):
            log.warning("Refused a connection on the supervisor socket: %s", claim)
            with contextlib.suppress(ChannelClosed):
                hello.channel.send({"error": claim})
            hello.channel.close()
            return
        try:
            hello.channel.send({"op": "resumed", "pid": os.getpid()})
        except ChannelClosed:
            hello.channel.close()
            return
        child = self._children.get(claim.ti_id)
        if (
            child is not None
            and child.kind is ChildKind.ADOPTED
            and child.pid == claim.identity.pid
            and child.channel is None
        ):
            self._attach(child, claim.channel)
            log.info("%s reconnected", child.describe())
            return
        guest = Child(
            ChildKind.GUEST,
            claim.identity.pid,
            None,
            time.monotonic(),
            ti_id=claim.ti_id,
            try_number=claim.try_number,
            label=f"try {claim.try_number} of task instance {claim.ti_id}",
        )
        self._guests.add(guest)
        self._attach(guest, claim.channel)

    def _expire_hellos(self) -> None:
        now = time.monotonic()
        for hello in [hello for hello in self._hellos if now >= hello.deadline]:
            self._hellos.discard(hello)
            self._unregister(hello.channel.sock)
            hello.channel.close()
