"""Fernet keys: where they come from, rotation, and refusing the wrong key."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind import config
from tradewind.db import models
from tradewind.exceptions import ConfigError, SecretDecryptionError
from tradewind.services import secrets, variables


def _settings(home: Path, key: str | None = None) -> config.Settings:
    environ = {"TRADEWIND_HOME": str(home)}
    if key is not None:
        environ["TRADEWIND__CORE__FERNET_KEY"] = key
    return config.load(environ=environ)


def test_key_file_is_generated_once_with_private_mode(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    first = secrets.load_keys(settings)
    path = tmp_path / "home" / "fernet.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secrets.load_keys(settings) == first
    token = secrets.SecretCipher.from_settings(settings).encrypt("x")
    assert secrets.SecretCipher.from_settings(settings).decrypt(token, what="t") == "x"
    assert [p.name for p in path.parent.iterdir()] == ["fernet.key"]  # no temporary left over


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    keys: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda: keys.append(secrets.load_keys(settings))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({tuple(k) for k in keys}) == 1


def test_configured_key_wins_and_no_file_is_written(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    assert secrets.load_keys(_settings(tmp_path, key)) == [key]
    assert not (tmp_path / "fernet.key").exists()


def test_invalid_configured_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a valid Fernet key"):
        secrets.SecretCipher.from_settings(_settings(tmp_path, "not-a-key"))


def test_rotation_with_comma_separated_keys(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = secrets.SecretCipher([old]).encrypt("s3cret")
    both = secrets.SecretCipher.from_settings(_settings(tmp_path, f"{new}, {old}"))
    assert both.decrypt(token, what="x") == "s3cret"
    rotated = both.rotate(token, what="x")
    assert secrets.SecretCipher([new]).decrypt(rotated, what="x") == "s3cret"


def test_wrong_key_is_an_error_not_garbage() -> None:
    token = secrets.SecretCipher([Fernet.generate_key().decode()]).encrypt("s3cret")
    other = secrets.SecretCipher([Fernet.generate_key().decode()])
    with pytest.raises(SecretDecryptionError, match="cannot decrypt variable 'db_password'"):
        other.decrypt(token, what="variable 'db_password'")


def test_rotate_secrets_reencrypts_stored_values(session: Session) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old_cipher = secrets.SecretCipher([old])
    variables.set_variable(session, "api_key", "k1", cipher=old_cipher)
    variables.set_variable(session, "plain", "p", cipher=old_cipher)
    session.add(
        models.ConnectionRow(
            conn_id="c",
            conn_type="http",
            password=old_cipher.encrypt("pw"),
            is_encrypted=True,
            extra=old_cipher.encrypt("{}"),
            is_extra_encrypted=True,
        )
    )
    session.flush()
    assert secrets.rotate_secrets(session, secrets.SecretCipher([new, old])) == 3
    new_only = secrets.SecretCipher([new])
    assert variables.get_variable(session, "api_key", cipher=new_only) == "k1"
    row = session.scalars(select(models.ConnectionRow)).one()
    assert new_only.decrypt(row.password or "", what="c") == "pw"


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [
        ("DB_PASSWORD", True),
        ("my_api_key", True),
        ("slack_token", True),
        ("Authorization", True),
        ("private_key_pem", True),
        ("secret", True),
        ("bucket", False),
        ("region", False),
    ],
)
def test_sensitive_names(name: str, sensitive: bool) -> None:
    assert secrets.is_sensitive(name) is sensitive
