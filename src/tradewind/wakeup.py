"""Wake the scheduler at once after a change it should act on (a trigger, a clear, a pause),
or the DAG processor after one it should (a deleted DAG whose file is still there).

A datagram to an abstract Unix socket named after ``$TRADEWIND_HOME`` and the role: no file,
no port, and a lost datagram costs only latency, because both also look on their own every
few seconds. On PostgreSQL a change made in a transaction also sends ``NOTIFY`` on
``SCHEDULER_CHANNEL`` (``notify_after_commit``), which reaches a scheduler on another host or
container, where no datagram does.
"""

from __future__ import annotations

import hashlib
import socket
import sys
from pathlib import Path
from typing import Any

SCHEDULER = "scheduler"
DAG_PROCESSOR = "dag-processor"
#: The PostgreSQL notification channel schedulers listen on.
SCHEDULER_CHANNEL = "tradewind_scheduler_wakeup"


def address(home: Path, role: str = SCHEDULER) -> str:
    digest = hashlib.sha1(str(home.expanduser().resolve()).encode()).hexdigest()[:20]
    return f"\0tradewind-{role}-{digest}"


def open_listener(home: Path, role: str = SCHEDULER) -> socket.socket | None:
    """The listening end of ``role``; None when another process of that role already
    listens (or no Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(address(home, role))
    except OSError:
        sock.close()
        return None
    sock.setblocking(False)
    return sock


def received(sock: socket.socket) -> bool:
    """Whether a wake-up came since the last look (all of them are taken)."""
    try:
        sock.recv(64)
    except (BlockingIOError, OSError):
        return False
    drain(sock)
    return True


def drain(sock: socket.socket) -> None:
    while True:
        try:
            sock.recv(64)
        except (BlockingIOError, OSError):
            return


def notify(home: Path, role: str = SCHEDULER) -> None:
    """Best effort: tell a process of ``role`` (the scheduler) of this home to look now."""
    if not sys.platform.startswith("linux"):
        return
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"!", address(home, role))
    except OSError:
        pass


def notify_after_commit(session: Any, home: Path, role: str = SCHEDULER) -> None:
    """Wake ``role`` once the transaction of ``session`` (a SQLAlchemy session) commits: the
    datagram after the commit, and for the scheduler on PostgreSQL a ``NOTIFY`` in the
    transaction itself (delivered by the server at commit, to schedulers anywhere)."""
    from sqlalchemy import event, text

    if role == SCHEDULER and session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {SCHEDULER_CHANNEL}"))
    event.listen(session, "after_commit", lambda _session: notify(home, role), once=True)
