"""The secrets masker: the one list of secret values a process must never show, and the
redaction that hides them (and the values of sensitive keys) wherever a value is shown.

Task logs, the rendered template fields stored for the UI and the API, and what ``tasks test``
prints all pass through the same ``masker``. Values get registered when a try reads a
sensitive variable or a connection, and when user code calls ``mask_secret`` (in a task or at
DAG parse time, as Airflow's ``airflow.sdk.log.mask_secret``).

Pure Python: DAG files import ``mask_secret`` without the metastore.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from tradewind.sdk.sensitive import MASK, is_sensitive

#: Shorter values are not masked (Airflow's ``[logging] min_length_masked_secret`` default):
#: masking "abc" would hide every "abc" in every log line.
MIN_LENGTH = 5

#: Common words never masked, even when registered: they appear in every path and log line.
NEVER_MASKED = frozenset({"airflow", "tradewind"})

#: Nesting deeper than this is replaced as a whole (it also ends self-referencing values).
MAX_DEPTH = 64

log = logging.getLogger("tradewind.secrets_masker")


class SecretsMasker:
    """Secret values registered in this process and a compiled pattern matching any of them.

    ``add`` may be called from any thread; ``redact_text`` and ``redact`` read a pattern
    that is replaced whole, so they need no lock.
    """

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        self._warned_short = False

    @property
    def active(self) -> bool:
        """Whether any value is registered (when not, text needs no scan)."""
        return self._pattern is not None

    def add(self, secret: Any, name: str | None = None) -> None:
        """Register ``secret`` (Airflow's ``add_mask`` rules, failing closed where they differ).

        A string is registered unless ``name`` is given and is not a sensitive name. A mapping
        registers the values of its sensitive keys, at any depth, and everything under a
        sensitive key; so ``{"token": t, "host": h}`` registers ``t`` only. A list, tuple or
        set registers its items as if each had ``name``. Other values (numbers, None) are
        ignored.
        """
        self._add(secret, None if name is None else is_sensitive(name), 0)

    def _add(self, secret: Any, sensitive: bool | None, depth: int) -> None:
        """``sensitive``: None when no name applies (a bare string is then registered)."""
        if depth > MAX_DEPTH or not secret:
            return
        if isinstance(secret, str):
            if sensitive is not False:
                self._register(secret)
        elif isinstance(secret, Mapping):
            for key, value in secret.items():
                self._add(value, sensitive is True or is_sensitive(str(key)), depth + 1)
        elif isinstance(secret, (list, tuple, set, frozenset)):
            for item in secret:
                self._add(item, sensitive, depth + 1)

    def _register(self, secret: str) -> None:
        if secret.lower() in NEVER_MASKED:
            return
        if len(secret) < MIN_LENGTH:
            if not self._warned_short:
                self._warned_short = True
                log.warning("A secret shorter than %d characters is not masked", MIN_LENGTH)
            return
        with self._lock:
            if secret in self._secrets:
                return
            self._secrets.add(secret)
            # Longest first, so a secret containing another is hidden whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def redact_text(self, text: str) -> str:
        """``text`` with every registered secret replaced by ``***``."""
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def redact(self, value: Any, name: str | None = None) -> Any:
        """A copy of ``value`` safe to show.

        Strings have registered secrets replaced. In mappings, at any depth, whatever is
        under a key with a sensitive name is hidden: each string, number or other scalar in it
        becomes ``***`` (None stays None). Lists, tuples and sets are walked (tuples and sets
        come back as lists). A sensitive ``name`` hides all of ``value``. Other values are
        returned as they are.
        """
        return self._redact(value, name is not None and is_sensitive(name), 0)

    def _redact(self, value: Any, hidden: bool, depth: int) -> Any:
        if depth > MAX_DEPTH:
            return MASK
        if isinstance(value, str):
            return MASK if hidden else self.redact_text(value)
        if value is None or isinstance(
            value, (int, float)
        ):  # the common leaves, before the ABC checks
            return MASK if hidden and value is not None else value
        if isinstance(value, (dict, Mapping)):
            return {
                self.redact_text(key) if isinstance(key, str) else key: self._redact(
                    item, hidden or (isinstance(key, str) and is_sensitive(key)), depth + 1
                )
                for key, item in value.items()
            }
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._redact(item, hidden, depth + 1) for item in _in_order(value)]
        return MASK if hidden and value is not None else value

    def reset(self) -> None:
        """Forget every registered secret (for tests, and processes that start afresh)."""
        with self._lock:
            self._secrets.clear()
            self._pattern = None
            self._warned_short = False


def _in_order(items: Iterable[Any]) -> Iterable[Any]:
    if isinstance(items, (set, frozenset)):
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    return items


#: This process's masker: the task log, rendered fields and ``mask_secret`` share it.
masker = SecretsMasker()


def mask_secret(secret: Any, name: str | None = None) -> None:
    """Hide ``secret`` from this task's log and rendered template fields from now on.

    Call it in a task, or at the top of a DAG file so every try of its tasks hides the value.
    With ``name``, a string is hidden only when the name is sensitive (contains ``password``,
    ``token``, ``secret``, ...); a dict hides the values of its sensitive keys, at any depth;
    a list hides each item. Values shorter than 5 characters are not hidden.
    """
    masker.add(secret, name)


def redact(value: Any, name: str | None = None) -> Any:
    """``value`` with the registered secrets and the
    values of sensitive keys replaced by ``***``."""
    return masker.redact(value, name)


def hide_sensitive_keys(value: Any) -> Any:
    """``value`` with the values of sensitive keys replaced by ``***`` at any depth; no
    registered secret is involved, so this gives the same answer in every process."""
    return _NAMES_ONLY.redact(value)


def restore_hidden(given: Any, stored: Any) -> Any:
    """``given`` (an edit of ``hide_sensitive_keys(stored)``) with each ``***`` that stands
    where a value was hidden put back to the stored value, so a masked value sent back whole
    does not overwrite the secrets it hid."""
    return _restore(given, stored, hide_sensitive_keys(stored), 0)


def _restore(given: Any, stored: Any, shown: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        return given
    if given == MASK and shown == MASK:
        return stored
    if isinstance(given, Mapping) and isinstance(stored, Mapping) and isinstance(shown, Mapping):
        return {
            key: _restore(item, stored[key], shown[key], depth + 1)
            if key in stored and key in shown
            else item
            for key, item in given.items()
        }
    if (
        isinstance(given, list)
        and isinstance(stored, list)
        and isinstance(shown, list)
        and len(stored) == len(shown)
    ):
        return [
            _restore(item, stored[index], shown[index], depth + 1) if index < len(stored) else item
            for index, item in enumerate(given)
        ]
    return given


_NAMES_ONLY = SecretsMasker()
