"""What ``tradewind standalone`` does before it starts: schema, admin user, settings."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from sqlalchemy.orm import Session

from tradewind.config import Settings
from tradewind.services import db_admin, users

PASSWORD_FILE = "standalone_admin_password.txt"


@dataclasses.dataclass(frozen=True)
class SetupResult:
    new_password: str | None
    password_file: Path


def standalone_settings(settings: Settings) -> Settings:
    """Standalone's DAGs start unpaused unless the setting was given explicitly."""
    if settings.sources.get(("core", "dags_are_paused_at_creation")) == "default":
        return settings.with_values(core__dags_are_paused_at_creation=False)
    return settings


def migrate(settings: Settings) -> None:
    """Bring the metastore (and ``$TRADEWIND_HOME``) up: what every other process needs."""
    settings.home.mkdir(parents=True, exist_ok=True)
    db_admin.migrate(settings)


def ensure_admin(settings: Settings) -> SetupResult:
    """Create ``admin`` with a random password when there is none (hashing it takes a good
    part of a second: ``standalone`` does it while its other processes start)."""
    password_file = settings.home / PASSWORD_FILE

    def create_admin(session: Session) -> str | None:
        if users.has_user(session, "admin"):
            return None
        password = users.generate_password()
        users.create_user(session, username="admin", password=password, role="Admin")
        return password

    password = db_admin.run(settings, create_admin)
    if password is not None:
        password_file.write_text(password + "\n", encoding="utf-8")
        os.chmod(password_file, 0o600)
    return SetupResult(password, password_file)
