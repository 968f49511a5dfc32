"""Backfills: runs created for a past date range, and which date became which run."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tradewind.db.base import STATE_LEN, Base
from tradewind.db.types import Json, UtcDateTime, utcnow


class ReprocessBehavior(enum.StrEnum):
    """Which logical dates that already have a run are run again (Airflow's values)."""

    NONE = "none"
    FAILED = "failed"
    COMPLETED = "completed"


class Backfill(Base):
    """One backfill request over ``[from_date, to_date]``."""

    __tablename__ = "backfill"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dag_id: Mapped[str] = mapped_column(ForeignKey("dag.dag_id", ondelete="CASCADE"))
    from_date: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    to_date: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    reprocess_behavior: Mapped[str] = mapped_column(
        String(20), default=ReprocessBehavior.NONE.value
    )
    max_active_runs: Mapped[int] = mapped_column(Integer, default=10)
    run_backwards: Mapped[bool] = mapped_column(Boolean, default=False)
    dag_run_conf: Mapped[dict[str, Any] | None] = mapped_column(Json)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(STATE_LEN), default="running")
    created_by: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class BackfillDagRun(Base):
    """One logical date of a backfill: the run made for it, or why none was made."""

    __tablename__ = "backfill_dag_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    backfill_id: Mapped[int] = mapped_column(ForeignKey("backfill.id", ondelete="CASCADE"))
    dag_run_id: Mapped[int | None] = mapped_column(ForeignKey("dag_run.id", ondelete="SET NULL"))
    logical_date: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    #: Why no run was created for this date (e.g. "already_exists"), else NULL.
    exception_reason: Mapped[str | None] = mapped_column(String(250))
    sort_ordinal: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("backfill_id", "dag_run_id"),
        UniqueConstraint("backfill_id", "logical_date"),
    )
