"""Pools: set, get, delete and list the slot budgets task instances run in.

``default_pool`` always exists (the initial migration creates it) and cannot be deleted.
The caller owns the transaction.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tradewind.db import models
from tradewind.db.upsert import upsert
from tradewind.exceptions import InvalidArgument, PoolNotFound

DEFAULT_POOL = models.DEFAULT_POOL_NAME
_NAME_LEN = 256


@dataclasses.dataclass(frozen=True)
class PoolInfo:
    """One pool. ``slots == -1`` means unlimited."""

    pool: str
    slots: int
    description: str | None
    include_deferred: bool


def set_pool(
    session: Session,
    name: str,
    slots: int,
    description: str | None = None,
    *,
    include_deferred: bool = False,
) -> PoolInfo:
    """Create pool ``name`` or change its slots, description and include_deferred."""
    if not name or name != name.strip() or len(name) > _NAME_LEN:
        raise InvalidArgument(f"invalid pool name {name!r}: 1-{_NAME_LEN} characters, no surrounding spaces")
    slots = parse_slots(slots)
    values = {"pool": name, "slots": slots, "description": description, "include_deferred": include_deferred}
    upsert(session, models.SlotPool, values, key=["pool"], update=["slots", "description", "include_deferred"])
    return PoolInfo(name, slots, description, include_deferred)


def get_pool(session: Session, name: str) -> PoolInfo:
    """Pool ``name``; ``PoolNotFound`` if there is none."""
    row = session.scalar(select(models.SlotPool).where(models.SlotPool.pool == name))
    if row is None:
        raise PoolNotFound(f"Pool {name} does not exist")
    return _info(row)


def delete_pool(session: Session, name: str) -> None:
    """Delete pool ``name``; the default pool is refused."""
    if name == DEFAULT_POOL:
        raise InvalidArgument(f"{DEFAULT_POOL} cannot be deleted")
    result = session.execute(delete(models.SlotPool).where(models.SlotPool.pool == name))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise PoolNotFound(f"Pool {name} does not exist")


def list_pools(session: Session) -> list[PoolInfo]:
    """Every pool, by name."""
    return [_info(r) for r in session.scalars(select(models.SlotPool).order_by(models.SlotPool.pool))]


def ensure_default_pool(session: Session, slots: int) -> None:
    """Recreate ``default_pool`` with ``slots`` if someone removed it behind our back."""
    if session.scalar(select(models.SlotPool.id).where(models.SlotPool.pool == DEFAULT_POOL)) is None:
        set_pool(session, DEFAULT_POOL, slots, "Default pool")


def parse_slots(value: int | str) -> int:
    """A slot count from text or int: a whole number >= 0, or -1 for unlimited."""
    try:
        slots = int(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"invalid slots {value!r}: expected a whole number") from None
    if slots < -1:
        raise InvalidArgument(f"invalid slots {slots}: expected >= 0, or -1 for unlimited")
    return slots


def _info(row: models.SlotPool) -> PoolInfo:
    return PoolInfo(row.pool, row.slots, row.description, row.include_deferred)
