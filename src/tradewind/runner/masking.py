"""Hide secrets in what a try shows: its log (records and stdout/stderr) and what it reads.

The values hidden are those of the process's one ``secrets_masker.masker``: the secrets a try
looked up (``mask_variable``, ``mask_connection``) and those user code gave ``mask_secret``.
Rendered template fields are redacted by the same masker (``rendered_fields``).
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any
from urllib.parse import quote

from tradewind.sdk.secrets_masker import masker
from tradewind.sdk.sensitive import is_sensitive


def mask_variable(key: str, value: str | None) -> None:
    """Register what a variable read reveals: all of a sensitive variable's value, and in a
    JSON value the values under sensitive keys (Airflow masks a variable by its key)."""
    if not value:
        return
    if is_sensitive(key):
        masker.add(value)
    if value.lstrip()[:1] in ("{", "["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return
        masker.add(parsed, key)


def mask_connection(conn: Any) -> None:
    """Register a connection's password (also as it appears URL-quoted in ``get_uri()``), its
    whole extra text and the values under the sensitive keys of its extra (Airflow's rules)."""
    if conn is None:
        return
    password = getattr(conn, "password", None)
    if isinstance(password, str) and password:
        masker.add(password)
        masker.add(quote(password, safe="*"))
    extra = getattr(conn, "extra", None)
    if isinstance(extra, str) and extra:
        masker.add(extra)
        masker.add(conn.extra_dejson)


class MaskingFilter(logging.Filter):
    """Redacts the formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not masker.active:
            return True
        message = record.getMessage()
        redacted = masker.redact_text(message)
        if redacted != message or record.exc_info:
            record.msg, record.args = redacted, None
            if record.exc_info:
                record.exc_text = masker.redact_text(
                    logging.Formatter().formatException(record.exc_info)
                )
                record.exc_info = None
        return True


class MaskingStream(io.TextIOBase):
    """A text stream that redacts secrets before writing to the wrapped stream."""

    def __init__(self, wrapped: Any) -> None:
        self._wrapped = wrapped

    def write(self, text: str) -> int:
        self._wrapped.write(masker.redact_text(text))
        return len(text)

    def flush(self) -> None:
        self._wrapped.flush()

    def fileno(self) -> int:
        return self._wrapped.fileno()

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    @property
    def buffer(self) -> MaskingBinaryStream:
        """For code that writes bytes to ``sys.stdout.buffer``: masked the same way."""
        return MaskingBinaryStream(self._wrapped.buffer, self.encoding)

    @property
    def encoding(self) -> str:  # type: ignore[override]  # read-only here, an attribute of TextIO
        return getattr(self._wrapped, "encoding", "utf-8")


class MaskingBinaryStream(io.RawIOBase):
    """The bytes side of ``MaskingStream``: decodes, redacts, encodes."""

    def __init__(self, wrapped: Any, encoding: str) -> None:
        self._wrapped = wrapped
        self._encoding = encoding

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        text = bytes(data).decode(self._encoding, errors="surrogateescape")
        self._wrapped.write(
            masker.redact_text(text).encode(self._encoding, errors="surrogateescape")
        )
        return len(data)

    def flush(self) -> None:
        self._wrapped.flush()

    def fileno(self) -> int:
        return self._wrapped.fileno()
