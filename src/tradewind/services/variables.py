"""Variables: get, set, delete, list, import and export (Airflow's semantics and file format).

Values are stored as text. Strings are stored as given; other values, and any value set
with ``serialize_json=True``, as JSON. Variables with a sensitive key (see
``secrets.is_sensitive``) are encrypted at rest. The caller owns the transaction.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tradewind.db import models
from tradewind.db.base import ID_LEN
from tradewind.db.upsert import upsert
from tradewind.exceptions import AlreadyExists, InvalidArgument, VariableNotFound
from tradewind.sdk import secrets_masker
from tradewind.services import input_limits, paging
from tradewind.services.secrets import MASK, SecretCipher, is_sensitive

#: Marks "no default given" (None is a legitimate default).
MISSING: Any = object()


@dataclasses.dataclass(frozen=True)
class VariableInfo:
    """A variable without its value, for listings."""

    key: str
    description: str | None
    is_encrypted: bool


class OnExisting(enum.StrEnum):
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
    input_limits.check_text_size(
        f"the value of variable {key!r}", text, input_limits.VARIABLE_VALUE_BYTES
    )
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
    if result.rowcount == 0:  # type: ignore[attr-defined]  # a DELETE gives a CursorResult
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
        raise InvalidArgument(f'{source} must hold a JSON object of variables, {{"key": value}}')
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
    existing = set(
        session.scalars(select(models.Variable.key).where(models.Variable.key.in_(list(data))))
    )
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
    if len(key) > ID_LEN:
        raise InvalidArgument(f"variable key is longer than {ID_LEN} characters: {key[:40]}...")
    input_limits.check_name("variable key", key, ID_LEN)


# -- the REST API's view: pages, single entries, masking -------------------------------------


@dataclasses.dataclass(frozen=True)
class VariableEntry:
    """A variable with its (decrypted) value, for people allowed to see it."""

    key: str
    value: str | None
    description: str | None
    is_encrypted: bool

    @property
    def masked_value(self) -> str | None:
        return masked_value(self.key, self.value)


ORDER_COLUMNS: Mapping[str, Any] = {
    "key": models.Variable.key,
    "id": models.Variable.id,
    "description": models.Variable.description,
    "is_encrypted": models.Variable.is_encrypted,
}


def masked_value(key: str, value: str | None) -> str | None:
    """The value as Airflow shows it: ``***`` for a sensitive key; in a JSON value, the values
    under sensitive keys, at any depth, are masked too."""
    if value is None:
        return None
    if is_sensitive(key):
        return MASK
    try:
        parsed = json.loads(value)
    except (json.JSONDecodeError, ValueError):
        return value
    hidden = secrets_masker.hide_sensitive_keys(parsed)
    return value if hidden == parsed else json.dumps(hidden)


def _entry(row: models.Variable, cipher: SecretCipher) -> VariableEntry:
    return VariableEntry(row.key, _plaintext(row, cipher), row.description, row.is_encrypted)


def list_variables_page(
    session: Session,
    *,
    cipher: SecretCipher,
    key_pattern: str | None = None,
    key_prefix_pattern: str | None = None,
    order_by: str | Sequence[str] | None = None,
    page: paging.Page,
) -> tuple[list[VariableEntry], int]:
    """One page of variables with their values (by key unless ``order_by`` says otherwise)."""
    query = paging.where_all(
        select(models.Variable),
        [
            paging.pattern(models.Variable.key, key_pattern),
            paging.prefix(models.Variable.key, key_prefix_pattern),
        ],
    )
    order = paging.order_clauses(
        order_by, ORDER_COLUMNS, default=["id"], tie_breaker=models.Variable.id
    )
    rows, total = paging.paginate(session, query, order, page)
    return [_entry(row, cipher) for row in rows], total


def get_entry(session: Session, key: str, *, cipher: SecretCipher) -> VariableEntry:
    row = session.scalar(select(models.Variable).where(models.Variable.key == key))
    if row is None:
        raise VariableNotFound(f"The Variable with key: `{key}` was not found")
    return _entry(row, cipher)


def create_variable(
    session: Session, key: str, value: Any, *, cipher: SecretCipher, description: str | None = None
) -> VariableEntry:
    """Store a new variable; ``AlreadyExists`` when the key is taken."""
    if session.scalar(select(models.Variable.id).where(models.Variable.key == key)) is not None:
        raise AlreadyExists(f"The Variable with key: `{key}` already exists")
    set_variable(session, key, value, cipher=cipher, description=description)
    return get_entry(session, key, cipher=cipher)


def update_variable(
    session: Session,
    key: str,
    *,
    cipher: SecretCipher,
    value: Any = MISSING,
    description: Any = MISSING,
) -> VariableEntry:
    """Change the value and/or the description (``MISSING`` leaves one as it is)."""
    row = session.scalar(select(models.Variable).where(models.Variable.key == key))
    if row is None:
        raise VariableNotFound(f"The Variable with key: `{key}` was not found")
    if value is not MISSING:
        text = value if isinstance(value, str) else json.dumps(value)
        input_limits.check_text_size(
            f"the value of variable {key!r}", text, input_limits.VARIABLE_VALUE_BYTES
        )
        encrypted = is_sensitive(key)
        row.val = cipher.encrypt(text) if encrypted else text
        row.is_encrypted = encrypted
    if description is not MISSING:
        row.description = description
    session.flush()
    return _entry(row, cipher)
