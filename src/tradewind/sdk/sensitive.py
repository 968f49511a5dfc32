"""Which names hold secrets: one list for encryption at rest, masking when shown, and
masking in task logs (so what is hidden in one place is hidden in all)."""

from __future__ import annotations

import re

#: Airflow's DEFAULT_SENSITIVE_FIELDS: a variable key or connection extra field containing one
#: of these (in any case) is a secret.
SENSITIVE_NAMES = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "authorization",
        "keyfile_dict",
        "passphrase",
        "passwd",
        "password",
        "private_key",
        "secret",
        "service_account",
        "token",
    }
)

#: What a secret is shown as.
MASK = "***"


_ANY_SENSITIVE_NAME = re.compile("|".join(re.escape(word) for word in sorted(SENSITIVE_NAMES)))


def is_sensitive(name: str) -> bool:
    """Whether a variable key or extra field name should be treated as a secret."""
    return _ANY_SENSITIVE_NAME.search(name.lower()) is not None
