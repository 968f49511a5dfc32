"""What people may store: names without control characters, values within a size.

The caps keep one request from filling the metastore or the memory of every process that
reads the value back (the scheduler reads run confs, task processes read variables). Each
refusal names the field, its size and the limit. XCom values are capped where tasks push
them (``runner.xcom_codec.MAX_VALUE_BYTES``), since no service writes them.
"""

from __future__ import annotations

import json
from typing import Any

from tradewind.exceptions import InvalidArgument, ValueTooLarge
from tradewind.runner import xcom_codec

MIB = 1024 * 1024
#: Largest variable value, in bytes of its stored text.
VARIABLE_VALUE_BYTES = 1 * MIB
#: Largest run conf (and backfill conf), in bytes of its JSON text.
RUN_CONF_BYTES = 1 * MIB
#: Longest note of a DAG run or task instance, in characters (Airflow's limit).
NOTE_CHARS = 1000
#: Largest XCom value a task may push, in bytes of its JSON text.
XCOM_VALUE_BYTES = xcom_codec.MAX_VALUE_BYTES


def _limit(count: int) -> str:
    return f"{count:,} bytes ({count / MIB:g} MiB)" if count >= MIB else f"{count:,} bytes"


def check_name(kind: str, name: str, max_length: int) -> str:
    """``name`` unless it is empty, longer than ``max_length``, has surrounding spaces or a
    control character (a newline, a tab, NUL...); ``InvalidArgument`` naming ``kind`` then."""
    if (
        not name
        or len(name) > max_length
        or name != name.strip()
        or any(ord(char) < 32 or ord(char) == 127 for char in name)
    ):
        raise InvalidArgument(
            f"invalid {kind} {name!r}: use 1-{max_length} characters, without surrounding spaces "
            "or control characters (newline, tab, ...)"
        )
    return name


def check_text_size(field: str, text: str | None, max_bytes: int) -> None:
    """``ValueTooLarge`` when ``text`` takes more than ``max_bytes`` in UTF-8."""
    if text is None or len(text) * 4 <= max_bytes:  # cheap case: even 4-byte characters fit
        return
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ValueTooLarge(f"{field} is {size:,} bytes, over the limit of {_limit(max_bytes)}")


def check_conf_size(field: str, conf: Any) -> None:
    """``ValueTooLarge`` when ``conf`` as JSON takes more than ``RUN_CONF_BYTES``."""
    if conf is None:
        return
    check_text_size(field, json.dumps(conf, default=str), RUN_CONF_BYTES)


def check_note(note: str | None) -> None:
    if note is not None and len(note) > NOTE_CHARS:
        raise ValueTooLarge(
            f"note is {len(note)} characters, over the limit of {NOTE_CHARS} characters"
        )
