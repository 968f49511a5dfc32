"""DAG runs: one execution of a DAG for one logical date (or none, for manual runs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tradewind.db.base import ID_LEN, STATE_LEN, Base
from tradewind.db.types import Json, StrEnumType, UtcDateTime, utcnow
from tradewind.sdk.states import DagRunState


class DagRun(Base):
    """One run of one DAG. ``state``, ``run_type`` hold ``DagRunState``/``DagRunType`` values."""

    __tablename__ = "dag_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dag_id: Mapped[str] = mapped_column(ForeignKey("dag.dag_id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    # NULL for runs without a logical date; the unique constraint ignores NULLs on both backends.
    logical_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    data_interval_start: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    data_interval_end: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    run_after: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    run_type: Mapped[str] = mapped_column(String(50))
    state: Mapped[DagRunState] = mapped_column(
        StrEnumType(DagRunState, STATE_LEN), default=DagRunState.QUEUED
    )
    conf: Mapped[dict[str, Any] | None] = mapped_column(Json)
    dag_version_id: Mapped[int | None] = mapped_column(ForeignKey("dag_version.id"))
    queued_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    start_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    end_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_scheduling_decision: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    backfill_id: Mapped[int | None] = mapped_column(ForeignKey("backfill.id", ondelete="SET NULL"))
    triggered_by: Mapped[str | None] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    clear_number: Mapped[int] = mapped_column(Integer, default=0)
    #: A DAG callback the run's end owes ("success", "task_failure" or "timed_out") until it
    #: has run; ``callback_job_id``: the scheduler job running it. A scheduler that died with
    #: the callback unfinished leaves both, and another (or its restart) runs it.
    callback_reason: Mapped[str | None] = mapped_column(String(20))
    callback_job_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("dag_id", "run_id"),
        Index("ix_dag_run_callback_reason", "callback_reason"),
        # Also the (dag_id, logical_date) index the scheduler and UI look runs up by.
        UniqueConstraint("dag_id", "logical_date"),
        Index("ix_dag_run_state_dag_id", "state", "dag_id"),
        Index("ix_dag_run_dag_id_run_after", "dag_id", "run_after"),
        # Every DAG's runs newest first (the runs page, the REST listing by run_after), and one
        # DAG's by id (the REST listing's default): read from an index a page at a time, not
        # by sorting the whole history or walking every run's id (PostgreSQL did, 17 ms).
        Index("ix_dag_run_run_after_id", "run_after", "id"),
        Index("ix_dag_run_dag_id_id", "dag_id", "id"),
    )
