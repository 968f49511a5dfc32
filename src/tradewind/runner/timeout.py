"""``execution_timeout`` inside the process running the task (a SIGALRM timer).

Only the main thread can receive the signal; elsewhere the executor's parent process enforces
the timeout by killing the task process.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from datetime import timedelta
from types import FrameType

from tradewind.exceptions import TaskTimeout


@contextlib.contextmanager
def execution_timeout(limit: timedelta | None, task_id: str) -> Iterator[None]:
    seconds = limit.total_seconds() if limit is not None else 0
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise TaskTimeout(f"task {task_id!r} timed out after {limit}")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
