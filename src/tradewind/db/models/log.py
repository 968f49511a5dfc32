"""The audit log: who did what to which DAG, run or task, and when."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tradewind.db.base import ID_LEN, Base
from tradewind.db.types import Json, UtcDateTime, utcnow


class Log(Base):
    """One audited event (CLI command, API call, state change made by a user)."""

    __tablename__ = "log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dttm: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    event: Mapped[str] = mapped_column(String(60))
    dag_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    task_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    run_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    map_index: Mapped[int | None] = mapped_column(Integer)
    try_number: Mapped[int | None] = mapped_column(Integer)
    #: Username, or the component name (e.g. "scheduler") for automatic events.
    owner: Mapped[str | None] = mapped_column(String(500))
    extra: Mapped[dict[str, Any] | None] = mapped_column(Json)

    __table_args__ = (
        Index("ix_log_dttm", "dttm"),
        Index("ix_log_dag_id_dttm", "dag_id", "dttm"),
        Index("ix_log_event_dttm", "event", "dttm"),
    )
