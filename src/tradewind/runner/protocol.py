"""Messages between a task process and the process that started it.

One JSON object per line over a socket pair. The task process never opens the metastore:
it asks its parent for XComs, variables and connections, and reports its outcome (with the
XComs it pushed) in one final message, which the parent applies in a batched transaction.
"""

from __future__ import annotations

import json
import socket
from typing import Any

MAX_LINE = 64 * 1024 * 1024


class ChannelClosed(Exception):  # noqa: N818 - a condition, not a failure of ours
    """The other end went away."""


class LineChannel:
    """JSON lines over a stream socket, blocking or fed from a selector."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise ChannelClosed(str(exc)) from exc

    def receive_available(self) -> list[dict[str, Any]]:
        """Read what is there now (call when the socket is readable); raises at EOF."""
        try:
            chunk = self.sock.recv(1 << 16)
        except BlockingIOError:
            return []
        except OSError as exc:
            raise ChannelClosed(str(exc)) from exc
        if not chunk:
            raise ChannelClosed("end of stream")
        self._buffer.extend(chunk)
        if len(self._buffer) > MAX_LINE:
            raise ChannelClosed("message too large")
        messages = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if line:
                messages.append(json.loads(line))
        return messages

    def receive(self) -> dict[str, Any]:
        """Block until one whole message arrives."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return json.loads(line)
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ChannelClosed("end of stream")
            self._buffer.extend(chunk)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
