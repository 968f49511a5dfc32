"""End a try that nobody can adopt once its supervisor is gone.

A try of the scheduler's host outlives its supervisor: the next one adopts it
(``runner.beacons``) or reads its outcome file. A try with neither a home to be adopted in nor
an outcome file (a Celery worker's) cannot be found again: its end travels only through the
worker that supervised it, and once that worker is gone (killed with
-9, its machine lost) the scheduler gives the try up after ``heartbeat_timeout`` and retries it
elsewhere. Left running, the orphan would run beside its own retry and could never report. So
a thread of the try waits for the supervisor's end of the channel to close and sends the
try SIGTERM (the operator's ``on_kill`` runs, as for any kill), then SIGKILL after a grace.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time

#: Seconds between the SIGTERM of an orphan and its SIGKILL.
KILL_GRACE = 10.0

_HANGUP = select.POLLRDHUP | select.POLLHUP | select.POLLERR | select.POLLNVAL


def start(channel_fd: int, *, grace: float = KILL_GRACE) -> None:
    """Watch ``channel_fd`` (the try's end of its supervisor's stream socket) from a daemon
    thread; nothing is read from it, so the try's own use of the channel is untouched."""
    thread = threading.Thread(
        target=_watch, args=(channel_fd, grace), name="tradewind-orphan-watch", daemon=True
    )
    thread.start()


def _watch(channel_fd: int, grace: float) -> None:
    poller = select.poll()
    # Only the hang-up: data waiting to be read (a reply) must not wake this thread.
    poller.register(channel_fd, select.POLLRDHUP)
    while True:
        try:
            ready = poller.poll()
        except InterruptedError:
            continue
        if any(mask & _HANGUP for _fd, mask in ready):
            break
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace)
    os.kill(os.getpid(), signal.SIGKILL)
