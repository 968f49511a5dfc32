"""Adoption: finding the tries of a home that outlived their executor, supervising them, and
taking them back when they reconnect (see ``runner.beacons``).

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
import signal
import time

from tradewind.executors import supervisor_socket
from tradewind.executors.base import Event
from tradewind.executors.children import Child, ChildKind, signal_through_pidfd
from tradewind.executors.forking import close_quietly
from tradewind.executors.try_supervisor import CHANNELS, TrySupervisor
from tradewind.runner import beacons, message_codec
from tradewind.runner.messages import Reply, Resume, Resumed
from tradewind.runner.process_identity import ProcessIdentity
from tradewind.runner.protocol import ChannelClosed, LineChannel

log = logging.getLogger("tradewind.executor")


class Adoption:
    """The adopting side of one executor of the home ``home_key``."""

    def __init__(self, supervisor: TrySupervisor, home_key: str, *, timeout_grace: float) -> None:
        self.supervisor = supervisor
        self.home_key = home_key
        self.timeout_grace = timeout_grace
        self.socket = supervisor_socket.SupervisorSocket(home_key)
        self.hellos: set[supervisor_socket.PendingHello] = set()
        self.listen()

    def close_in_child(self) -> None:
        self.socket.close()
        for hello in self.hellos:
            hello.channel.close()

    def close(self) -> None:
        for hello in self.hellos:
            hello.channel.close()
        self.hellos.clear()
        self.socket.close()

    def next_deadline(self) -> float | None:
        return min((hello.deadline for hello in self.hellos), default=None)

    # -- tries of a dead executor -----------------------------------------------------------
    def orphans(self) -> dict[tuple[int, int], ProcessIdentity]:
        self.listen()  # another executor of this home may have held the socket until now
        mine = {child.pid for child in self.supervisor.all_watched() if child.pid is not None}
        return {
            key: identity
            for key, identity in beacons.live_tries(self.home_key).items()
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
        child = self.supervisor.tries.get(ti_id)
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
        )
        limit = None if time_left is None else max(0.0, time_left) + self.timeout_grace
        self.supervisor.add_try(child, limit)
        self.supervisor.watch_process(child, pidfd)
        for guest in list(self.supervisor.guests):  # it reconnected before it was adopted
            if guest.ti_id == ti_id and guest.pid == identity.pid and guest.channel is not None:
                self.supervisor.guests.discard(guest)
                self.supervisor.unwatch(guest.channel.sock)
                self._attach(child, guest.channel)
        log.info(
            "Adopted %s (process %d), started by an executor that is gone", label, identity.pid
        )
        return True

    @staticmethod
    def disown(identity: ProcessIdentity, reason: str) -> None:
        pidfd = identity.open_pidfd()
        if pidfd is None:
            return
        try:
            log.warning("Stopping process %d: %s", identity.pid, reason)
            signal_through_pidfd(pidfd, identity.pid, signal.SIGTERM)
        finally:
            os.close(pidfd)

    # -- the supervisor socket --------------------------------------------------------------
    def listen(self) -> None:
        if self.socket.sock is None and self.socket.listen():
            self.supervisor.watch(self.socket.sock, CHANNELS, self._on_connect, self.socket)

    def _on_connect(self, _socket: supervisor_socket.SupervisorSocket) -> list[Event]:
        for hello in self.socket.accept_all():
            self.hellos.add(hello)
            self.supervisor.watch(hello.channel.sock, CHANNELS, self._on_hello, hello)
        return []

    def _attach(self, child: Child, channel: LineChannel) -> None:
        child.channel = channel
        self.supervisor.watch(channel.sock, CHANNELS, self.supervisor.on_readable, child)

    def _on_hello(self, hello: supervisor_socket.PendingHello) -> list[Event]:
        """A try that lost its scheduler says which it is: take it, as adopted or as a guest."""
        if hello not in self.hellos:
            return []
        claim: supervisor_socket.ResumeClaim | str
        try:
            frame = supervisor_socket.read_hello(hello)
        except (ChannelClosed, ValueError):
            claim = "unreadable"
        else:
            if frame is None:
                return []
            claim = self._claim(hello, frame)
        self.hellos.discard(hello)
        self.supervisor.unwatch(hello.channel.sock)
        if isinstance(claim, str):
            log.warning("Refused a connection on the supervisor socket: %s", claim)
            with contextlib.suppress(ChannelClosed):
                hello.channel.send_message(Reply.failure(claim))
            hello.channel.close()
            return []
        try:
            hello.channel.send_message(Resumed(os.getpid()))
        except ChannelClosed:
            hello.channel.close()
            return []
        self._take(claim)
        return []

    def _claim(
        self, hello: supervisor_socket.PendingHello, frame: dict[str, object]
    ) -> supervisor_socket.ResumeClaim | str:
        try:
            message = message_codec.from_frame(frame, what="the try")
        except ValueError as exc:
            return str(exc)
        if not isinstance(message, Resume):
            return 'expected {"op": "resume", "ti_id": int, "try_number": int}'
        return supervisor_socket.check_claim(self.home_key, hello, message)

    def _take(self, claim: supervisor_socket.ResumeClaim) -> None:
        child = self.supervisor.tries.get(claim.ti_id)
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
        self.supervisor.guests.add(guest)
        self._attach(guest, claim.channel)

    def expire_hellos(self) -> None:
        now = time.monotonic()
        for hello in [hello for hello in self.hellos if now >= hello.deadline]:
            self.hellos.discard(hello)
            self.supervisor.unwatch(hello.channel.sock)
            close_quietly(hello.channel)
