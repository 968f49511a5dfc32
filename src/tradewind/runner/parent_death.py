"""Tie a child process's life to its parent's (Linux ``PR_SET_PDEATHSIG``).

For helpers that are no use without their parent: the fork server, warm launchers, DAG
callback processes and the children of ``standalone``. Never for a try: a try outlives its
supervisors and is adopted (``runner.beacons``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from typing import Any

_PR_SET_PDEATHSIG = 1

#: libc, opened once per process tree: opening it in every forked child costs a millisecond.
_libc: Any = None


def _prctl() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc.prctl


def preload() -> None:
    """Open libc now, in a long-lived parent, so forked children find it open."""
    with contextlib.suppress(OSError, AttributeError):
        _prctl()


def die_with_parent(sig: int = signal.SIGTERM, *, expected_parent: int | None = None) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies; no-op elsewhere.

    With ``expected_parent`` (the pid of the process that forked this one), a parent that
    already died between the fork and this call is noticed too: the signal is sent at once.
    """
    with contextlib.suppress(OSError, AttributeError):
        _prctl()(_PR_SET_PDEATHSIG, sig)
    if expected_parent is not None and os.getppid() != expected_parent:
        os.kill(os.getpid(), sig)
