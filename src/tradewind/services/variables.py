"""Variables: get, set, delete, list, import and export (Airflow's semantics and file format).

Values are stored as text. Strings are stored as given; other values, and any value set
with ``serialize_json=True``, as JSON. Variables with a sensitive key (see
``secrets.is_sensitive``) are encrypted at rest. The caller owns the transaction.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tradewind.db import models
from tradewind.db.base import ID_LEN
from tradewind.db.upsert import upsert
from tradewind.exceptions import InvalidArgument, VariableNotFound
from tradewind.services.secrets import SecretCipher, is_sensitive

#: Marks "no default given" (None is a legitimate default).
MISSING: Any = object()


@dataclasses.dataclass(frozen=True)
class VariableInfo:
    """A variable without its value, for listings."""

    key: str
    description: str | None
    is_encrypted: bool


class OnExisting(str, enum.Enum):
    """What ``import_variables`` does with a key that already exists."""

    OVERWRITE = "overwrite"
    FAIL = "fail"
    SKIP = "skip"


@dataclasses.dataclass(frozen=True)
class ImportResult:
    """Which keys an import wrote and which it left alone."""

    written: list[str]
    skipped: list[str]


def get_variable(
    session: Session,
    key: str,
    *,
    cipher: SecretCipher,
    default: Any = MISSING,
    deserialize_json: bool = False,
) -> Any:
    """The value of ``key`` (parsed as JSON if asked); ``default`` or ``VariableNotFound``."""
    row = session.scalar(select(models.Variable).where(models.Variable.key == key))
    if row is None:
        if default is MISSING:
            raise VariableNotFound(f"Variable {key} does not exist")
        return default
    value = _plaintext(row, cipher)
    if not deserialize_json:
        return value
    try:
        return json.loads(value) if value is not None else None
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"Variable {key} does not hold valid JSON: {exc}") from exc


def set_variable(
    session: Session,
    key: str,
    value: Any,
    *,
    cipher: SecretCipher,
    description: str | None = None,
    serialize_json: bool = False,
) -> None:
    """Create or replace ``key``. A ``description`` of None keeps the existing one."""
    _validate_key(key)
    if serialize_json:
        text = json.dumps(value, indent=2)
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value)
    encrypted = is_sensitive(key)
    values: dict[str, Any] = {
        "key": key,
        "val": cipher.encrypt(text) if encrypted else text,
        "is_encrypted": encrypted,
    }
    update = ["val", "is_encrypted"]
    if description is not None:
        values["description"] = description
        update.append("description")
    upsert(session, models.Variable, values, key=["key"], update=update)


def delete_variable(session: Session, key: str) -> None:
    """Delete ``key``; ``VariableNotFound`` if there is none."""
    result = session.execute(delete(models.Variable).where(models.Variable.key == key))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise VariableNotFound(f"Variable {key} does not exist")


def list_variables(session: Session) -> list[VariableInfo]:
    """Every variable, by key, without values."""
    rows = session.scalars(select(models.Variable).order_by(models.Variable.key))
    return [VariableInfo(r.key, r.description, r.is_encrypted) for r in rows]


def export_variables(session: Session, *, cipher: SecretCipher) -> dict[str, Any]:
    """``{key: value}`` for every variable, decrypted; JSON text is exported parsed.

    This is Airflow's export format, so ``import_variables`` of it restores the same values.
    """
    exported: dict[str, Any] = {}
    for row in session.scalars(select(models.Variable).order_by(models.Variable.key)):
        value = _plaintext(row, cipher)
        try:
            exported[row.key] = json.loads(value) if value is not None else None
        except json.JSONDecodeError:
            exported[row.key] = value
    return exported


def parse_import(text: str, *, source: str = "input") -> dict[str, Any]:
    """The ``{key: value}`` object of an import file, or ``InvalidArgument`` saying why not."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"{source} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidArgument(f"{source} must hold a JSON object of variables, {{\"key\": value}}")
    return data


def import_variables(
    session: Session,
    data: Mapping[str, Any],
    *,
    cipher: SecretCipher,
    on_existing: OnExisting | str = OnExisting.OVERWRITE,
) -> ImportResult:
    """Set every ``key: value`` of ``data`` (Airflow's export format).

    A value may also be ``{"value": ..., "description": ...}``. With ``on_existing="fail"``
    nothing is written when any key exists already.
    """
    policy = OnExisting(on_existing)
    existing = set(session.scalars(select(models.Variable.key).where(models.Variable.key.in_(list(data)))))
    if policy is OnExisting.FAIL and existing:
        raise InvalidArgument(f"Variables already exist: {', '.join(sorted(existing))}")
    written: list[str] = []
    skipped: list[str] = []
    for key, raw in data.items():
        if policy is OnExisting.SKIP and key in existing:
            skipped.append(key)
            continue
        value, description = raw, None
        if isinstance(raw, dict) and "value" in raw and set(raw) <= {"value", "description"}:
            value, description = raw["value"], raw.get("description")
        set_variable(session, key, value, cipher=cipher, description=description)
        written.append(key)
    return ImportResult(written=written, skipped=skipped)


def _plaintext(row: models.Variable, cipher: SecretCipher) -> str | None:
    if row.val is None or not row.is_encrypted:
        return row.val
    return cipher.decrypt(row.val, what=f"variable {row.key!r}")


def _validate_key(key: str) -> None:
    if not key or key != key.strip():
        raise InvalidArgument(f"invalid variable key {key!r}: it must be non-empty without surrounding spaces")
    if len(key) > ID_LEN:
        raise InvalidArgument(f"variable key is longer than {ID_LEN} characters: {key[:40]}...")
