"""Questions of tries, held until the executor's owner answers them.

A try asks its supervisor for what lives elsewhere (XComs, variables, connections, other
runs: ``runner.messages``). Reading its channel is the supervisor's job; answering is not:
the answer comes from the metastore (the scheduler's ``services.task_requests``) or, for a
remote worker, from an API. So the supervisor only ``hold``s each question, and ``wait``
stays a matter of reading pipes; the owner calls ``answer_all`` (``BaseExecutor.
answer_requests``) when it is ready to look things up, and every question waiting is
answered then, in the order asked.

A try asks one question at a time and waits for its answer, so holding it costs the try the
time until the next ``answer_all``, which the scheduler calls right after ``wait``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from tradewind.runner.messages import Reply, Request
from tradewind.runner.protocol import ChannelClosed, LineChannel

log = logging.getLogger("tradewind.executor")

#: Answers one question (its wire fields) with the reply's fields.
RequestHandler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class HeldRequest:
    channel: LineChannel
    request: Request
    asker: str


class RequestRelay:
    """The questions waiting for an answer, and what answers them."""

    def __init__(self, handler: RequestHandler | None = None) -> None:
        self.handler = handler
        self._held: list[HeldRequest] = []

    @property
    def pending(self) -> bool:
        return bool(self._held)

    def hold(self, channel: LineChannel, request: Request, asker: str) -> None:
        self._held.append(HeldRequest(channel, request, asker))

    def refuse(self, channel: LineChannel, error: str) -> None:
        """Answer at once that a message is none we can answer (no lookup needed)."""
        _send(channel, Reply.failure(error))

    def answer_all(self) -> int:
        """Answer every question held (each channel gets its replies in the order asked);
        how many were answered. A question whose asker went away meanwhile is dropped."""
        held, self._held = self._held, []
        for item in held:
            if item.channel.sock.fileno() < 0:  # its channel closed: nobody waits for it
                continue
            _send(item.channel, self._answer(item))
        return len(held)

    def forget(self, channel: LineChannel) -> None:
        """The channel closed: drop its questions."""
        if self._held:
            self._held = [item for item in self._held if item.channel is not channel]

    def _answer(self, item: HeldRequest) -> Reply:
        if self.handler is None:
            return Reply.failure("no request handler")
        try:
            return Reply(self.handler(item.request.as_fields()))
        except Exception as exc:  # a failed lookup must not take the scheduler down
            log.exception("Answering %r for %s failed", item.request.op, item.asker)
            return Reply.failure(f"{type(exc).__name__}: {exc}")


def _send(channel: LineChannel, reply: Reply) -> None:
    with contextlib.suppress(ChannelClosed):
        channel.send_message(reply)
