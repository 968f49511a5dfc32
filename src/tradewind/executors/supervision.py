"""The executor's end of a home's supervisor socket: where tries that lost their scheduler
come back (see ``runner.beacons`` for the whole design).

A connection is taken as the try it says it is only when the kernel agrees: its peer process
(``SO_PEERCRED``, read at connect time) runs as our user and holds the beacon of that very
try, whose name carries the process's identity. Anything else is refused. A peer that says
nothing for ``HELLO_TIMEOUT`` seconds is dropped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import struct
import time
from typing import Any

from tradewind.runner import beacons
from tradewind.runner.process_identity import ProcessIdentity
from tradewind.runner.protocol import ChannelClosed, LineChannel

log = logging.getLogger("tradewind.executor")

HELLO_TIMEOUT = 5.0
_CREDENTIALS = struct.Struct("3i")


@dataclasses.dataclass(frozen=True)
class ResumeClaim:
    """A connected try, checked: which try it is and its process."""

    ti_id: int
    try_number: int
    identity: ProcessIdentity
    channel: LineChannel


@dataclasses.dataclass(eq=False)
class PendingHello:
    """A connection that has not said which try it is yet."""

    channel: LineChannel
    deadline: float


class SupervisorSocket:
    """The listening socket of one home; at most one executor of the home holds it."""

    def __init__(self, home_key: str) -> None:
        self.home_key = home_key
        self.sock: socket.socket | None = None

    def listen(self) -> bool:
        """Take the address; False while another executor of this home holds it."""
        if self.sock is not None:
            return True
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(beacons.supervisor_address(self.home_key))
            sock.listen(64)
        except OSError:
            sock.close()
            return False
        sock.setblocking(False)
        self.sock = sock
        return True

    def accept_all(self) -> list[PendingHello]:
        found: list[PendingHello] = []
        while self.sock is not None:
            try:
                conn, _address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                log.warning("Could not accept a connection on the supervisor socket", exc_info=True)
                break
            conn.setblocking(False)
            found.append(PendingHello(LineChannel(conn), time.monotonic() + HELLO_TIMEOUT))
        return found

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None


def read_hello(hello: PendingHello) -> dict[str, Any] | None:
    """The first message of a pending connection, once it arrived; raises ``ChannelClosed``
    when the peer went away or sent something else than one line."""
    messages = hello.channel.receive_available()
    if not messages:
        return None
    if len(messages) != 1:
        raise ChannelClosed("a try says who it is, then waits for the answer")
    return messages[0]


def check_claim(home_key: str, hello: PendingHello, message: dict[str, Any]) -> ResumeClaim | str:
    """The claim, checked against the kernel's word; or why it is refused."""
    ti_id, try_number = message.get("ti_id"), message.get("try_number")
    if (
        message.get("op") != "resume"
        or not isinstance(ti_id, int)
        or not isinstance(try_number, int)
    ):
        return 'expected {"op": "resume", "ti_id": int, "try_number": int}'
    try:
        raw = hello.channel.sock.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size
        )
    except OSError as exc:
        return f"the peer's credentials cannot be read: {exc}"
    pid, uid, _gid = _CREDENTIALS.unpack(raw)
    if uid != os.getuid():
        return "the process runs as another user"
    identity = ProcessIdentity.of(pid)
    if identity is None or not beacons.holds_beacon(home_key, ti_id, try_number, identity):
        return f"process {pid} is not try {try_number} of task instance {ti_id}"
    return ResumeClaim(ti_id, try_number, identity, hello.channel)
