"""Signed tokens and the server's secret key.

Bearer tokens (``POST /auth/token``) and the UI session cookie are signed with the same key:
``[api] secret_key``, or a key generated once and kept in ``$TRADEWIND_HOME/api_secret.key``.
A token names its user and carries the user's ``session_stamp`` at issue: the API refuses it
once the stamp changed (new password, role, deactivation) or the user is gone.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from tradewind.config import Settings

KEY_FILE = "api_secret.key"
TOKEN_SALT = "tradewind.api.token"


def secret_key(settings: Settings) -> str:
    configured = settings.get("api", "secret_key")
    if configured:
        return str(configured)
    path: Path = settings.home / KEY_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    settings.home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key.encode())
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return key


@dataclasses.dataclass(frozen=True)
class TokenClaims:
    """Who a valid token names, and the session stamp it was issued with."""

    username: str
    session_stamp: str


class TokenSigner:
    """Issues and checks access tokens that name a user and expire."""

    def __init__(self, key: str, max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt=TOKEN_SALT)
        self.max_age = max_age

    def issue(self, username: str, session_stamp: str) -> str:
        return self._serializer.dumps({"sub": username, "stamp": session_stamp})

    def verify(self, token: str) -> TokenClaims | None:
        """The token's claims, or None when it is invalid, expired or from before stamps."""
        try:
            data: Any = self._serializer.loads(token, max_age=self.max_age)
        except (SignatureExpired, BadSignature):
            return None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("sub"), str)
            or not isinstance(data.get("stamp"), str)
        ):
            return None
        return TokenClaims(data["sub"], data["stamp"])
