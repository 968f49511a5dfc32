"""What a parse child that died without an answer leaves behind: its exit code, and the report
faulthandler wrote at the end of its log (so an import error can name the signal, file and line)."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

#: How much of the end of a child's log is searched for faulthandler's report.
_REPORT_BYTES = 64 * 1024


def describe_exit(code: int | None) -> str:
    """What became of a parse child that ended without an answer, from its exit code."""
    if code is None:
        return "the interpreter did not finish importing the file"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"the interpreter was killed by signal {name} while importing the file"
    return f"the interpreter exited with code {code} while importing the file"


_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


def crash_report(log_path: Path, path: Path) -> tuple[str, int | None]:
    """faulthandler's report at the end of the child's log, cut after the frame of ``path``,
    and the line of ``path`` in it."""
    try:
        with log_path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - _REPORT_BYTES))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return "", None
    start = tail.rfind("Fatal Python error")
    if start < 0:
        return "", None
    kept: list[str] = []
    line: int | None = None
    for text in tail[start:].splitlines():  # frames: most recent call first
        if text.startswith("Extension modules:"):
            break
        kept.append(text)
        match = _FRAME.search(text)
        if match and Path(match["file"]) == path:
            line = int(match["line"])
            break
    return "\n".join(kept).rstrip(), line
