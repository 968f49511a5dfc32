"""``LISTEN`` on a PostgreSQL connection of its own, for a process that waits in ``select``.

A notification reaches every listener connected to the same database, on any host: what a
datagram on the home's socket cannot do once the API server and the scheduler run in
different containers or machines. On SQLite there is nothing to listen to and the listener is
inactive (``fileno`` is None).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from sqlalchemy.engine import Engine

log = logging.getLogger("tradewind.db")


class PgListener:
    """A connection taken out of the engine's pool that listens on ``channels``."""

    def __init__(self, engine: Engine, *channels: str) -> None:
        self._connection: Any = None
        if engine.dialect.name != "postgresql":
            return
        raw = engine.raw_connection()
        connection = raw.driver_connection
        if connection is None:
            raw.close()
            return
        # Out of the pool: a LISTEN outlives any transaction and must not serve other work.
        raw.detach()
        connection.autocommit = True
        for channel in channels:
            connection.execute(f"LISTEN {channel}")
        self._connection = connection

    @property
    def active(self) -> bool:
        return self._connection is not None

    def fileno(self) -> int | None:
        """The socket to wait on, readable when a notification came; None when inactive."""
        return int(self._connection.fileno()) if self._connection is not None else None

    def drain(self) -> int:
        """Take the notifications received (their content does not matter); how many."""
        if self._connection is None:
            return 0
        taken = 0
        try:
            for _ in self._connection.notifies(timeout=0, stop_after=1000):
                taken += 1
        except Exception as exc:  # a broken connection: waits go on without it
            log.warning("Listening for wake-ups stopped: %s", exc)
            self.close()
        return taken

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
