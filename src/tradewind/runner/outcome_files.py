"""Outcome files: a try's final message, kept on disk until the scheduler has recorded it.

A task process writes its final message to ``<home>/outcomes/<ti_id>-<try_number>.json``
(atomically: a temporary file renamed into place) before it sends it, and the scheduler
deletes the file once the outcome is committed. The file is how an outcome reaches a
scheduler that was not there to hear it: one restarted after a crash, or one that adopted the
try and only learns that its process ended.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger("tradewind.task")


def path_for(folder: Path, ti_id: int, try_number: int) -> Path:
    return folder / f"{ti_id}-{try_number}.json"


def write(path: str | None, data: bytes) -> None:
    """Write the final message (its ``protocol.encode``-d line) where a scheduler finds it."""
    if not path:
        return
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = f"{path}.{os.getpid()}.tmp"
        with open(partial, "wb") as handle:
            handle.write(data)
        os.replace(partial, path)
    except OSError:
        log.warning("could not write the outcome file %s", path, exc_info=True)


def read(path: str | Path | None, ti_id: int, try_number: int) -> dict[str, Any] | None:
    """The final message that try left in ``path``, or None (no file, or not that try's)."""
    if path is None:
        return None
    try:
        message = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(message, dict)
        or message.get("ti_id") != ti_id
        or message.get("try_number") != try_number
    ):
        return None
    return message
