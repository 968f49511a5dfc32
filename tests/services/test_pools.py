"""Pools service, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from tradewind.db import models
from tradewind.exceptions import InvalidArgument, PoolNotFound
from tradewind.services import pools


def test_default_pool_exists(session: Session) -> None:
    assert pools.list_pools(session) == [pools.PoolInfo("default_pool", 128, "Default pool", False)]


def test_set_get_update(session: Session) -> None:
    assert pools.set_pool(session, "db", 4, "database") == pools.PoolInfo(
        "db", 4, "database", False
    )
    pools.set_pool(session, "db", 8, "bigger", include_deferred=True)
    assert pools.get_pool(session, "db") == pools.PoolInfo("db", 8, "bigger", True)
    assert [p.pool for p in pools.list_pools(session)] == ["db", "default_pool"]


def test_delete(session: Session) -> None:
    pools.set_pool(session, "db", 4)
    pools.delete_pool(session, "db")
    with pytest.raises(PoolNotFound, match="^Pool db does not exist$"):
        pools.get_pool(session, "db")
    with pytest.raises(PoolNotFound):
        pools.delete_pool(session, "db")


def test_default_pool_cannot_be_deleted(session: Session) -> None:
    with pytest.raises(InvalidArgument, match="default_pool cannot be deleted"):
        pools.delete_pool(session, "default_pool")
    assert pools.get_pool(session, "default_pool").slots == 128


@pytest.mark.parametrize(
    ("slots", "ok"), [(-1, True), (0, True), ("12", True), (-2, False), ("many", False)]
)
def test_slots_validation(session: Session, slots: int | str, ok: bool) -> None:
    if ok:
        assert pools.set_pool(session, "p", slots).slots == int(slots)
    else:
        with pytest.raises(InvalidArgument, match="invalid slots"):
            pools.set_pool(session, "p", slots)


def test_ensure_default_pool(session: Session) -> None:
    session.execute(delete(models.SlotPool))
    pools.ensure_default_pool(session, 5)
    assert pools.get_pool(session, "default_pool").slots == 5
