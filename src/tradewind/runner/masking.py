"""Hide secrets in task logs: connection passwords and sensitive variables become ``***``.

Values are registered as the task looks them up; every log record and every write to
stdout/stderr of the task process passes through the same replacement.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from typing import Any

from tradewind.sdk.sensitive import MASK


class SecretsMasker:
    """The set of secret strings of this process and a compiled pattern for them."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, secret: Any) -> None:
        if not isinstance(secret, str) or len(secret) < 3:
            return
        with self._lock:
            if secret in self._secrets:
                return
            self._secrets.add(secret)
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def redact(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text


masker = SecretsMasker()


class MaskingFilter(logging.Filter):
    """Redacts the formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if masker._pattern is None:
            return True
        message = record.getMessage()
        redacted = masker.redact(message)
        if redacted != message or record.exc_info:
            record.msg, record.args = redacted, None
            if record.exc_info:
                record.exc_text = masker.redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


class MaskingStream(io.TextIOBase):
    """A text stream that redacts secrets before writing to the wrapped stream."""

    def __init__(self, wrapped: Any) -> None:
        self._wrapped = wrapped

    def write(self, text: str) -> int:
        self._wrapped.write(masker.redact(text))
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
    def encoding(self) -> str:  # type: ignore[override]
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
        self._wrapped.write(masker.redact(text).encode(self._encoding, errors="surrogateescape"))
        return len(data)

    def flush(self) -> None:
        self._wrapped.flush()

    def fileno(self) -> int:
        return self._wrapped.fileno()
