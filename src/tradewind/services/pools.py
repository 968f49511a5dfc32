"""Pools: set, get, delete and list the slot budgets task instances run in.

``default_pool`` always exists (the initial migration creates it) and cannot be deleted.
The caller owns the transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tradewind.db import models
from tradewind.db.upsert import upsert
from tradewind.exceptions import AlreadyExists, InvalidArgument, PoolNotFound
from tradewind.services import input_limits, paging

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
    input_limits.check_name("pool name", name, _NAME_LEN)
    slots = parse_slots(slots)
    values = {
        "pool": name,
        "slots": slots,
        "description": description,
        "include_deferred": include_deferred,
    }
    upsert(
        session,
        models.SlotPool,
        values,
        key=["pool"],
        update=["slots", "description", "include_deferred"],
    )
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
    if result.rowcount == 0:  # type: ignore[attr-defined]  # a DELETE gives a CursorResult
        raise PoolNotFound(f"Pool {name} does not exist")


def list_pools(session: Session) -> list[PoolInfo]:
    """Every pool, by name."""
    return [
        _info(r) for r in session.scalars(select(models.SlotPool).order_by(models.SlotPool.pool))
    ]


def ensure_default_pool(session: Session, slots: int) -> None:
    """Recreate ``default_pool`` with ``slots`` if someone removed it behind our back."""
    if (
        session.scalar(select(models.SlotPool.id).where(models.SlotPool.pool == DEFAULT_POOL))
        is None
    ):
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


# -- the REST API's view: usage, pages, create and partial update ----------------------------

_USAGE_STATES = ("running", "queued", "scheduled", "deferred")


@dataclasses.dataclass(frozen=True)
class PoolUsage:
    """A pool with the slots its task instances take, by state (Airflow's pool statistics)."""

    info: PoolInfo
    running: int
    queued: int
    scheduled: int
    deferred: int

    @property
    def occupied(self) -> int:
        return self.running + self.queued + (self.deferred if self.info.include_deferred else 0)

    @property
    def open(self) -> int:
        """Free slots; -1 for an unlimited pool."""
        if self.info.slots < 0:
            return -1
        return max(0, self.info.slots - self.occupied)


ORDER_COLUMNS: Mapping[str, Any] = {
    "id": models.SlotPool.id,
    "pool": models.SlotPool.pool,
    "name": models.SlotPool.pool,
    "slots": models.SlotPool.slots,
    "description": models.SlotPool.description,
    "include_deferred": models.SlotPool.include_deferred,
}


def usage(session: Session, pools: Sequence[PoolInfo]) -> list[PoolUsage]:
    """The usage of each pool, in the same order."""
    names = [pool.pool for pool in pools]
    counts: dict[tuple[str, str | None], int] = {}
    if names:
        rows = session.execute(
            select(
                models.TaskInstance.pool,
                models.TaskInstance.state,
                func.sum(models.TaskInstance.pool_slots),
            )
            .where(
                models.TaskInstance.pool.in_(names), models.TaskInstance.state.in_(_USAGE_STATES)
            )
            .group_by(models.TaskInstance.pool, models.TaskInstance.state)
        )
        counts = {(pool, state): int(used or 0) for pool, state, used in rows}
    return [
        PoolUsage(pool, *(counts.get((pool.pool, state), 0) for state in _USAGE_STATES))
        for pool in pools
    ]


def list_pools_page(
    session: Session,
    *,
    name_pattern: str | None = None,
    name_prefix_pattern: str | None = None,
    order_by: str | Sequence[str] | None = None,
    page: paging.Page,
) -> tuple[list[PoolInfo], int]:
    query = paging.where_all(
        select(models.SlotPool),
        [
            paging.pattern(models.SlotPool.pool, name_pattern),
            paging.prefix(models.SlotPool.pool, name_prefix_pattern),
        ],
    )
    order = paging.order_clauses(
        order_by, ORDER_COLUMNS, default=["id"], tie_breaker=models.SlotPool.id
    )
    rows, total = paging.paginate(session, query, order, page)
    return [_info(row) for row in rows], total


def create_pool(
    session: Session,
    name: str,
    slots: int,
    description: str | None = None,
    *,
    include_deferred: bool = False,
) -> PoolInfo:
    """A new pool; ``AlreadyExists`` when the name is taken."""
    if session.scalar(select(models.SlotPool.id).where(models.SlotPool.pool == name)) is not None:
        raise AlreadyExists(f"Pool with name: `{name}` already exists")
    return set_pool(session, name, slots, description, include_deferred=include_deferred)


def update_pool(session: Session, name: str, changes: Mapping[str, Any]) -> PoolInfo:
    """Change some of ``pool`` (rename), ``slots``, ``description``, ``include_deferred``.

    The default pool keeps its name and its description.
    """
    unknown = sorted(set(changes) - {"pool", "slots", "description", "include_deferred"})
    if unknown:
        raise InvalidArgument(f"cannot update pool fields: {', '.join(unknown)}")
    row = session.scalar(select(models.SlotPool).where(models.SlotPool.pool == name))
    if row is None:
        raise PoolNotFound(f"The Pool with name: `{name}` was not found")
    new_name = changes.get("pool", name)
    if name == DEFAULT_POOL and (
        new_name != name or "description" in changes and changes["description"] != row.description
    ):
        raise InvalidArgument("Only slots and included_deferred can be modified on Default Pool")
    if new_name != name:
        input_limits.check_name("pool name", new_name, _NAME_LEN)
        if (
            session.scalar(select(models.SlotPool.id).where(models.SlotPool.pool == new_name))
            is not None
        ):
            raise AlreadyExists(f"Pool with name: `{new_name}` already exists")
        row.pool = new_name
    if "slots" in changes:
        row.slots = parse_slots(changes["slots"])
    if "description" in changes:
        row.description = changes["description"]
    if "include_deferred" in changes:
        row.include_deferred = bool(changes["include_deferred"])
    session.flush()
    return _info(row)
