"""The rendered template fields a try reports, as JSON values safe to show to any reader.

They are stored on the task instance and shown by the REST API and the UI to every role, so
they go through the same masker as the task log: the secrets the try read or registered with
``mask_secret`` become ``***``, and so does whatever sits under a sensitive key (``password``,
``token``, ...) at any depth, as Airflow does before it stores them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from tradewind.sdk import secrets_masker
from tradewind.sdk.sensitive import MASK

#: Longest JSON text of one field kept; a longer one is cut (Airflow's
#: ``max_templated_field_length`` default).
MAX_LENGTH = 4096

_MAX_DEPTH = secrets_masker.MAX_DEPTH


def serialize(operator: Any) -> dict[str, Any]:
    """Each template field of the rendered ``operator``, redacted."""
    return {
        name: serialize_field(name, getattr(operator, name, None))
        for name in operator.template_fields
    }


def serialize_field(name: str, value: Any) -> Any:
    """``value`` as JSON data (strings, numbers, lists, objects), redacted, and cut to a string
    when its JSON text is longer than ``MAX_LENGTH``.

    Redaction comes after the conversion (an object's text may hold a secret) and before the
    cut (a cut secret would no longer match).
    """
    shown = secrets_masker.redact(_plain(value, 0), name)
    if shown is None or isinstance(shown, (bool, int, float)):
        return shown
    text = shown if isinstance(shown, str) else json.dumps(shown, ensure_ascii=False)
    if len(text) > MAX_LENGTH:
        return text[:MAX_LENGTH] + "..."
    return shown


def _plain(value: Any, depth: int) -> Any:
    """A JSON-compatible copy: mappings with string keys, lists for tuples and sets, other
    objects as their text (as Airflow stores them)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= _MAX_DEPTH:  # deeper than any template field: hide it rather than walk on
        return MASK
    if isinstance(value, Mapping):
        return {str(key): _plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, depth + 1) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(item, depth + 1) for item in value), key=repr)
    return str(value)
