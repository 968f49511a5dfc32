"""Reading the log of one try for people: from a byte offset, as text or structured messages.

A try's log is a file under the log folder (``runner.log_paths``). While the try runs, a read
stops at the last complete line and says where to go on from, so a follower never sees half a
line; once the try is over, the read goes to the end of the file.

Lines written by the task's logging (``[time] {file.py:12} INFO - message``) become
structured messages with ``timestamp``, ``level``, ``filename`` and ``lineno``; anything else
(print output, tracebacks) is a message with only ``event``, as in Airflow.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradewind.runner.log_paths import try_log_path

#: Most bytes returned by one read; the rest comes with the continuation.
MAX_CHUNK_BYTES = 4 * 1024 * 1024

_LINE = re.compile(
    r"^\[(?P<ts>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\]"
    r"(?: \{(?P<src>[^}]*)\})? (?P<level>[A-Z]+) - (?P<msg>.*)$"
)


@dataclasses.dataclass(frozen=True)
class LogChunk:
    """Part of a log file: ``text`` starts at the requested offset and ends at ``next_offset``."""

    path: Path
    text: str
    next_offset: int
    end_of_log: bool
    exists: bool

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def log_path(
    log_folder: Path, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int
) -> Path:
    return try_log_path(log_folder, dag_id, run_id, task_id, map_index, try_number)


def read(
    path: Path, *, offset: int = 0, try_over: bool, max_bytes: int = MAX_CHUNK_BYTES
) -> LogChunk:
    """Read from byte ``offset``. ``end_of_log`` when the try is over and nothing is left."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, offset))
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        return LogChunk(path, "", offset, try_over, False)
    except OSError as exc:
        return LogChunk(path, f"*** Could not read log file {path}: {exc}\n", offset, True, False)
    more = len(data) > max_bytes
    data = data[:max_bytes]
    if more or not try_over:
        cut = data.rfind(b"\n")
        if cut >= 0:
            data = data[: cut + 1]
        elif not more:
            data = b""
    text = data.decode("utf-8", errors="replace")
    return LogChunk(path, text, offset + len(data), try_over and not more, True)


def structured(line: str) -> dict[str, Any]:
    """One log line as a structured message (Airflow's ``StructuredLogMessage``)."""
    match = _LINE.match(line)
    if match is None:
        return {"event": line}
    message: dict[str, Any] = {"event": match["msg"], "level": match["level"].lower()}
    stamp = _timestamp(match["ts"])
    if stamp is not None:
        message["timestamp"] = stamp
    if match["src"]:
        filename, _, lineno = match["src"].rpartition(":")
        if filename and lineno.isdigit():
            message["filename"], message["lineno"] = filename, int(lineno)
        else:
            message["logger"] = match["src"]
    return message


def _timestamp(text: str) -> str | None:
    """ISO 8601 in UTC. ``logging``'s asctime has no zone: it is the writer's local time."""
    try:
        value = datetime.fromisoformat(text.replace(",", "."))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.astimezone()
    return value.astimezone(UTC).isoformat()
