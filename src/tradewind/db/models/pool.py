"""Pools: named slot budgets that cap how many task instances run at once."""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tradewind.db.base import Base

DEFAULT_POOL_NAME = "default_pool"


class SlotPool(Base):
    """One pool. ``slots == -1`` means unlimited, as in Airflow."""

    __tablename__ = "slot_pool"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pool: Mapped[str] = mapped_column(String(256), unique=True)
    slots: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str | None] = mapped_column(Text)
    #: Whether deferred task instances count against the pool's slots.
    include_deferred: Mapped[bool] = mapped_column(Boolean, default=False)
