"""Which names hold secrets: one list for encryption at rest, masking when shown, and
masking in task logs (so what is hidden in one place is hidden in all)."""

from __future__ import annotations

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


def is_sensitive(name: str) -> bool:
    """Whether a variable key or extra field name should be treated as a secret."""
    lowered = name.lower()
    return any(word in lowered for word in SENSITIVE_NAMES)
