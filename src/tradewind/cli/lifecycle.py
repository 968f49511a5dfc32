"""What every long-running command (``scheduler``, ``dag-processor``, ``standalone``) does
first: its log on stderr, and a stop request during start-up that ends it cleanly.

Light on purpose: ``standalone`` starts its API server before it imports the scheduler.
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any

from tradewind.config import Settings

log = logging.getLogger("tradewind")


class StopDuringStartup(BaseException):
    """SIGINT or SIGTERM arrived before the long-running loop took over its signals.

    A ``BaseException`` like ``KeyboardInterrupt``, so no ``except Exception`` on the way swallows
    it; unlike ``KeyboardInterrupt`` it also fires when the process inherited SIGINT ignored (a
    command started in the background of a script), where Python installs no handler at all."""


def _stop_during_startup(signum: int, frame: Any) -> None:
    raise StopDuringStartup(signal.Signals(signum).name)


def _catch_stop_during_startup() -> None:
    """From the first instant, a stop request ends start-up instead of being lost or printing a
    traceback; the scheduler and the DAG processor replace these handlers with their own."""
    signal.signal(signal.SIGINT, _stop_during_startup)
    signal.signal(signal.SIGTERM, _stop_during_startup)


def stopped_during_startup(command: Callable[[], None]) -> Callable[[], None]:
    @functools.wraps(command)
    def run() -> None:
        _catch_stop_during_startup()
        try:
            command()
        except StopDuringStartup as stop:
            log.info("Received %s during start-up: stopped", stop.args[0])

    return run


def setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(name)s - %(message)s"))
    root = logging.getLogger("tradewind")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def apply_log_level(settings: Settings) -> None:
    """``[logging] logging_level`` on Tradewind's own log (not on the libraries it uses)."""
    logging.getLogger("tradewind").setLevel(settings.get("logging", "logging_level"))
