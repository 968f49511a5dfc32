"""Fork hygiene: a new child of the executor's process holds nothing of the executor's.

Tries outlive the scheduler, so nothing of the scheduler's may stay open in them: a metastore
connection held by an orphan keeps a killed scheduler's transaction (and its row locks) open
on the server, and a held listening socket keeps its address taken. Each part of the executor
that holds descriptors closes them in the child (``close_in_child``); whatever is left (the
caller's, a library's) is pointed at /dev/null.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterable
from typing import Any

from tradewind.runner.protocol import LineChannel

#: Closes, in a new child, the descriptors of one part of the executor.
Closer = Callable[[], None]


def fork_with_channel(
    run_child: Callable[[LineChannel], Any], closers: Iterable[Closer]
) -> tuple[int, socket.socket]:
    """Fork a child in its own process group that runs ``run_child`` on its end of a new
    socket pair (and never returns); (its pid, our non-blocking end)."""
    parent_sock, child_sock = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.setpgid(0, 0)
            parent_sock.close()
            close_inherited(closers, keep=child_sock.fileno())
            run_child(LineChannel(child_sock))
        finally:
            os._exit(1)
    # Also here, so a kill right after the fork reaches the group.
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    child_sock.close()
    parent_sock.setblocking(False)
    return pid, parent_sock


def close_inherited(closers: Iterable[Closer], *, keep: int) -> None:
    """In a new child: close what each part held, then point the rest at /dev/null."""
    for close in closers:
        with contextlib.suppress(OSError):
            close()
    redirect_inherited_fds({keep})


def close_quietly(fileobj: Any) -> None:
    """Close a file object or descriptor number, ignoring one already closed."""
    try:
        if isinstance(fileobj, int):
            os.close(fileobj)
        else:
            fileobj.close()
    except OSError:
        pass


def redirect_inherited_fds(keep: set[int]) -> None:
    """In a new child of the executor's process: point every descriptor it inherited, except
    ``keep`` and 0-2, at /dev/null. The descriptor numbers stay valid (objects of the parent
    that close them later close /dev/null)."""
    try:
        listed = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in listed:
            if fd <= 2 or fd in keep or fd == devnull:
                continue
            # (OSError: the descriptor listdir itself used, closed since.)
            with contextlib.suppress(OSError):
                os.dup2(devnull, fd, inheritable=False)
    finally:
        os.close(devnull)
