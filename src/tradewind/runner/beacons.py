"""How a try that outlived its scheduler is found
again: its beacon, and its home's supervisor socket.

A try must survive the death of the processes above it (the scheduler, the fork server, its
warm launcher): killing healthy work because its supervisor crashed costs every running task
a try. So a task process is not tied to its parent's life. It announces itself instead:

- **The beacon.** First thing, before any user code runs, each try binds an abstract Unix
  socket named ``tradewind-try-<home>-<ti_id>-<try_number>-<pid>-<start ticks>``. The kernel
  drops the name when the process ends, however it ends (SIGKILL included), so the beacons
  listed in ``/proc/net/unix`` are exactly the tries of a home that may still run, each with
  the identity of its process (``runner.process_identity``: pid and start time, so a reused
  pid is never mistaken for the try). A restarted scheduler reads them to adopt the tries its
  dead predecessor started, even one that started in the instant before the scheduler could
  record it. A beacon inherited by a child of the try outlives the try, but names the try's
  identity, which is then no longer alive: it is ignored. Beacons live in the network
  namespace: a scheduler only ever finds tries of its own host.
- **The supervisor socket.** A listening abstract socket ``tradewind-tries-<home>``, held by
  the executor of the home's scheduler. A try whose channel to its parent broke connects
  there, says which try it is (``{"op": "resume", "ti_id", "try_number"}``) and, once
  answered ``{"op": "resumed", "pid"}``, asks its questions (XCom, variables, connections)
  over the new connection as before. The executor checks the claim: the connecting process
  (``SO_PEERCRED``) must run as the same user and hold that try's beacon.

``<home>`` is a digest of ``$TRADEWIND_HOME``: tries of one home write their outcome files and
logs under it, so only a scheduler of the same home can take them over.
"""

from __future__ import annotations

import hashlib
import socket
import sys
from pathlib import Path

from tradewind.runner.process_identity import ProcessIdentity

_BEACON_PREFIX = "tradewind-try-"
_SUPERVISOR_PREFIX = "tradewind-tries-"


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "AF_UNIX")


def home_key(home: Path) -> str:
    """The short digest naming a Tradewind home in socket names."""
    return hashlib.sha1(str(home.expanduser().resolve()).encode()).hexdigest()[:16]


def supervisor_address(key: str) -> str:
    return f"\0{_SUPERVISOR_PREFIX}{key}"


def beacon_name(key: str, ti_id: int, try_number: int, identity: ProcessIdentity) -> str:
    return f"{_BEACON_PREFIX}{key}-{ti_id}-{try_number}-{identity.pid}-{identity.start_ticks}"


def hold(key: str | None, ti_id: int, try_number: int) -> socket.socket | None:
    """Bind this process's beacon; keep the socket for the life of the process. None when
    there is no home key, no identity, or the name is taken (then the try cannot be adopted)."""
    if key is None or not supported():
        return None
    identity = ProcessIdentity.of_self()
    if identity is None:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind("\0" + beacon_name(key, ti_id, try_number, identity))
    except OSError:
        sock.close()
        return None
    return sock


def scan(key: str) -> list[tuple[int, int, ProcessIdentity]]:
    """The beacons of this home: (ti_id, try_number, identity of the process that bound it).
    The processes are not checked here: ``live_tries`` keeps those that run."""
    try:
        with open("/proc/net/unix", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return []
    marker = f"@{_BEACON_PREFIX}{key}-"
    found: list[tuple[int, int, ProcessIdentity]] = []
    start = text.find(marker)
    while start >= 0:
        end = text.find("\n", start)
        name = text[start + len(marker) : end if end >= 0 else len(text)].strip()
        parts = name.split("-")
        if len(parts) == 4 and all(part.isdigit() for part in parts):
            ti_id, try_number, pid, ticks = (int(part) for part in parts)
            found.append((ti_id, try_number, ProcessIdentity(pid, ticks)))
        start = text.find(marker, start + len(marker))
    return found


def live_tries(key: str) -> dict[tuple[int, int], ProcessIdentity]:
    """(ti_id, try_number) -> identity of each try of this home whose process runs now, as
    this user."""
    return {
        (ti_id, try_number): identity
        for ti_id, try_number, identity in scan(key)
        if identity.alive() and identity.owned_by_this_user()
    }


def holds_beacon(key: str, ti_id: int, try_number: int, identity: ProcessIdentity) -> bool:
    """Whether that process holds the beacon of that try (and is alive)."""
    return (ti_id, try_number, identity) in scan(key) and identity.alive()
