"""Wake the scheduler at once after a change it should act on (a trigger, a clear, a pause).

A datagram to an abstract Unix socket named after ``$TRADEWIND_HOME``: no file, no port, and
a lost datagram costs only latency, because the scheduler also looks on its own every few
seconds.
"""

from __future__ import annotations

import hashlib
import socket
import sys
from pathlib import Path


def address(home: Path) -> str:
    digest = hashlib.sha1(str(home.expanduser().resolve()).encode()).hexdigest()[:20]
    return f"\0tradewind-scheduler-{digest}"


def open_listener(home: Path) -> socket.socket | None:
    """The scheduler's end; None when another scheduler already listens (or no Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(address(home))
    except OSError:
        sock.close()
        return None
    sock.setblocking(False)
    return sock


def drain(sock: socket.socket) -> None:
    while True:
        try:
            sock.recv(64)
        except (BlockingIOError, OSError):
            return


def notify(home: Path) -> None:
    """Best effort: tell a scheduler of this home to look now."""
    if not sys.platform.startswith("linux"):
        return
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"!", address(home))
    except OSError:
        pass
