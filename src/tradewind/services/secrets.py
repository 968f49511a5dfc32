"""Encryption of secrets at rest: connection passwords and extras, sensitive variables.

The Fernet key comes from ``[core] fernet_key`` or, when that is unset, from
``$TRADEWIND_HOME/fernet.key``, generated on first use with mode 0600. Several
comma-separated keys rotate the key: the first encrypts, every key decrypts, and
``rotate_secrets`` re-encrypts stored values with the first.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.config import Settings
from tradewind.db import models
from tradewind.exceptions import ConfigError, SecretDecryptionError
from tradewind.sdk.sensitive import MASK, SENSITIVE_NAMES, is_sensitive

KEY_FILE_NAME = "fernet.key"

__all__ = ["MASK", "SENSITIVE_NAMES", "SecretCipher", "is_sensitive"]


class SecretCipher:
    """Encrypts with the first key and decrypts with any, so keys can be rotated."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigError("[core] fernet_key: at least one key is needed")
        try:
            self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                "[core] fernet_key is not a valid Fernet key (32 url-safe base64-encoded "
                f"bytes; several may be given separated by commas): {exc}"
            ) from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretCipher:
        """The cipher for ``settings``, generating ``$TRADEWIND_HOME/fernet.key`` if needed."""
        return cls(load_keys(settings))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str, *, what: str) -> str:
        """The plaintext of ``token``; ``what`` names the secret in the error message."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise _wrong_key(what) from exc

    def rotate(self, token: str, *, what: str) -> str:
        """``token`` re-encrypted with the first key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise _wrong_key(what) from exc


def _wrong_key(what: str) -> SecretDecryptionError:
    return SecretDecryptionError(
        f"cannot decrypt {what}: it was encrypted with a Fernet key other than the ones in "
        "[core] fernet_key (or $TRADEWIND_HOME/fernet.key); set the key it was encrypted "
        "with, or add it after the current one to rotate"
    )


def load_keys(settings: Settings) -> list[str]:
    """The configured keys, or the key of ``$TRADEWIND_HOME/fernet.key`` (created if absent)."""
    configured = settings.get("core", "fernet_key")
    if configured:
        keys = [key.strip() for key in str(configured).split(",") if key.strip()]
        if keys:
            return keys
    return [_read_or_create_key_file(settings.home / KEY_FILE_NAME)]


def rotate_secrets(session: Session, cipher: SecretCipher) -> int:
    """Re-encrypt every stored secret with the cipher's first key; returns how many."""
    count = 0
    for variable in session.scalars(select(models.Variable).where(models.Variable.is_encrypted)):
        if variable.val is not None:
            variable.val = cipher.rotate(variable.val, what=f"variable {variable.key!r}")
            count += 1
    for conn in session.scalars(select(models.ConnectionRow)):
        if conn.is_encrypted and conn.password is not None:
            conn.password = cipher.rotate(
                conn.password, what=f"password of connection {conn.conn_id!r}"
            )
            count += 1
        if conn.is_extra_encrypted and conn.extra is not None:
            conn.extra = cipher.rotate(conn.extra, what=f"extra of connection {conn.conn_id!r}")
            count += 1
    return count


def _read_or_create_key_file(path: Path) -> str:
    if not path.exists():
        _create_key_file(path)
    key = path.read_text().strip()
    if not key:
        raise ConfigError(
            f"{path} is empty: delete it to generate a new key, or set [core] fernet_key"
        )
    return key


def _create_key_file(path: Path) -> None:
    """Write a new key so that concurrent first uses all end up with the same one.

    The key is written to a private temporary file and hard-linked into place: the link
    either appears complete or fails because another process won the race.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fernet.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(Fernet.generate_key().decode() + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
