"""A task process's questions to the process that supervises it, and what happens when that
process is gone.

Questions (XCom, variables, connections, other runs) go over the channel the executor gave
the process, one at a time, each answered in order. When the channel breaks because the
scheduler died, a try that can be adopted (``Resume``) does not fail: it logs that it lost its
scheduler and waits, retrying every few seconds, until a scheduler of the same home listens
on the home's supervisor socket (``runner.beacons``), then asks again there. Meanwhile the task
goes on with whatever does not need an answer; its log and its outcome file do not need the
scheduler at all.

A question already sent when the channel broke may have been answered by the old scheduler.
Reads are asked again. ``trigger_dag_run`` is not (a second run could be created): its answer
is an error saying that the run may or may not exist.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import time
from typing import Any

from tradewind.runner import beacons
from tradewind.runner.protocol import ChannelClosed, LineChannel

log = logging.getLogger("tradewind.task")

#: Questions that change something: not asked twice when their answer was lost.
NOT_REPEATABLE = frozenset({"trigger_dag_run"})
#: Seconds between attempts to reach a scheduler, at first and at most.
RETRY_FIRST = 0.2
RETRY_MAX = 2.0
#: Seconds a scheduler may take to answer a resume request.
HANDSHAKE_TIMEOUT = 30.0


@dataclasses.dataclass(frozen=True)
class Resume:
    """How a try finds a scheduler again after losing its own: its home's key and who it is."""

    home_key: str
    ti_id: int
    try_number: int


class SupervisorLost(ChannelClosed):
    """The scheduler refused to take the try over."""


class ParentLink:
    """Questions to the supervising process over ``channel``; with ``resume``, a broken channel
    is replaced by a connection to the home's supervisor socket."""

    def __init__(self, channel: LineChannel, *, resume: Resume | None = None) -> None:
        self.channel = channel
        self.resume = resume
        self._lock = threading.Lock()

    def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        """The raw reply (which may be ``{"error": ...}``)."""
        with self._lock:
            while True:
                try:
                    self.channel.send(message)
                except ChannelClosed:
                    self._reconnect()  # not delivered: ask the next scheduler
                    continue
                try:
                    return self.channel.receive()
                except ChannelClosed:
                    self._reconnect()
                    if message.get("op") in NOT_REPEATABLE:
                        return {
                            "error": (
                                "the scheduler stopped while answering "
                                f"{message.get('op')!r}; it may or may not have been done"
                            ),
                            "error_type": "supervisor_lost",
                        }

    def ask_or_raise(self, message: dict[str, Any]) -> dict[str, Any]:
        reply = self.ask(message)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def send_final(self, data: bytes) -> None:
        """Send the outcome line; if the scheduler is gone, the outcome file tells it instead."""
        with self._lock:
            try:
                self.channel.send_encoded(data)
            except ChannelClosed:
                if self.resume is not None:
                    log.info(
                        "The scheduler is away: the outcome is left in the outcome file for it"
                    )

    def _reconnect(self) -> None:
        """Wait for a scheduler of this home; raise ``ChannelClosed`` when this try has none."""
        if self.resume is None:
            raise ChannelClosed("the scheduler went away")
        log.warning(
            "Lost contact with the scheduler; the task goes on and waits for a scheduler of this "
            "Tradewind home to take it over"
        )
        delay = RETRY_FIRST
        while True:
            channel, reply = self._handshake()
            if channel is not None:
                self.channel.close()
                self.channel = channel
                log.info("Taken over by the scheduler in process %s", reply.get("pid"))
                return
            if reply:  # a scheduler answered, and said no
                raise SupervisorLost(
                    f"the scheduler refused to take this try over: {reply.get('error')}"
                )
            time.sleep(delay)
            delay = min(RETRY_MAX, delay * 2)

    def _handshake(self) -> tuple[LineChannel | None, dict[str, Any]]:
        """(the new channel, the reply) once a scheduler took the try; (None, {}) when none
        listens; (None, its refusal) when one refused."""
        assert self.resume is not None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(HANDSHAKE_TIMEOUT)
        channel = LineChannel(sock)
        try:
            sock.connect(beacons.supervisor_address(self.resume.home_key))
            channel.send(
                {"op": "resume", "ti_id": self.resume.ti_id, "try_number": self.resume.try_number}
            )
            reply = channel.receive()
        except (OSError, ChannelClosed, ValueError):
            channel.close()
            return None, {}
        if reply.get("op") != "resumed":
            channel.close()
            return None, reply if "error" in reply else {"error": "unexpected answer"}
        sock.settimeout(None)
        return channel, reply
