"""Outcome files: a try's final message, kept on disk until the scheduler has recorded it.

A task process writes its final message to ``<home>/outcomes/<ti_id>-<try_number>.json``
(atomically: a temporary file renamed into place) before it sends it, and the scheduler
deletes the file once the outcome is committed. The file is how an outcome reaches a
scheduler that was not there to hear it: one restarted after a crash, or one that adopted the
try and only learns that its process ended.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from tradewind.runner import message_codec
from tradewind.runner.messages import TaskDone

log = logging.getLogger("tradewind.task")


def path_for(folder: Path, ti_id: int, try_number: int) -> Path:
    return folder / f"{ti_id}-{try_number}.json"


def write(path: str | None, data: bytes) -> None:
    """Write the final message (its ``message_codec.encode_line``-d line) where a scheduler
    finds it."""
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
    """The final message that try left in ``path`` in its wire form, or None (no file, not
    that try's, or not readable by this release)."""
    done = read_done(path, ti_id, try_number)
    return None if done is None else done.as_fields()


def read_done(path: str | Path | None, ti_id: int, try_number: int) -> TaskDone | None:
    """The final message that try left in ``path``, or None (no file, or not that try's). A
    file written by a try of another release is not read (the scheduler then reports the try
    as having ended without an outcome), and that is logged with both versions."""
    if path is None:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    try:
        done = message_codec.decode_line(data, what=f"the outcome file {path}")
    except message_codec.ProtocolMismatch as exc:
        log.error("%s", exc)
        return None
    except ValueError:
        return None
    if not isinstance(done, TaskDone) or done.ti_id != ti_id or done.try_number != try_number:
        return None
    return done
