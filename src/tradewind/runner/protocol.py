"""Messages between a task process and the process that started it.

One JSON object per line over a socket pair. The task process never opens the metastore:
it asks its parent for XComs, variables and connections, and reports its outcome (with the
XComs it pushed) in one final message, which the parent applies in a batched transaction.
"""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Any

MAX_LINE = 64 * 1024 * 1024


class ChannelClosed(Exception):  # noqa: N818 - a condition, not a failure of ours
    """The other end went away."""


def encode(message: dict[str, Any]) -> bytes:
    """One message as the line ``LineChannel`` sends."""
    return json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"


class LineChannel:
    """JSON lines over a stream socket, blocking or fed from a selector."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: dict[str, Any], *, timeout: float = 60.0) -> None:
        """Send one message. On a non-blocking socket (the parent's end) the send blocks for at
        most ``timeout`` seconds: a reply larger than the socket buffer must still go out whole."""
        self.send_encoded(encode(message), timeout=timeout)

    def send_encoded(self, data: bytes, *, timeout: float = 60.0) -> None:
        """Send a message already made by ``encode``."""
        previous = self.sock.gettimeout()
        try:
            if previous == 0.0:
                self.sock.settimeout(timeout)
            self.sock.sendall(data)
        except OSError as exc:
            raise ChannelClosed(str(exc)) from exc
        finally:
            if previous == 0.0:
                with contextlib.suppress(OSError):
                    self.sock.setblocking(False)

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

    def drain(self) -> tuple[list[dict[str, Any]], bool]:
        """Read everything already sent (non-blocking socket); returns the messages and whether
        the other end is closed. Used when the other process has exited."""
        messages: list[dict[str, Any]] = []
        while True:
            try:
                chunk = self.sock.recv(1 << 16)
            except BlockingIOError:
                return messages, False
            except OSError:
                return messages, True
            if not chunk:
                return messages, True
            self._buffer.extend(chunk)
            while True:
                end = self._buffer.find(b"\n")
                if end < 0:
                    break
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                if line:
                    messages.append(json.loads(line))

    def receive(self) -> dict[str, Any]:
        """Block until one whole message arrives."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return json.loads(line)
            try:
                chunk = self.sock.recv(1 << 16)
            except OSError as exc:
                raise ChannelClosed(str(exc)) from exc
            if not chunk:
                raise ChannelClosed("end of stream")
            self._buffer.extend(chunk)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
