"""Task instances (the current try of one task in one run) and the history of finished tries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tradewind.db.base import ID_LEN, STATE_LEN, Base
from tradewind.db.types import Json, StrEnumType, UtcDateTime, utcnow
from tradewind.sdk.states import TaskInstanceState

DEFAULT_POOL = "default_pool"
DEFAULT_QUEUE = "default"


class TaskInstanceColumns:
    """Columns shared by ``task_instance`` and ``task_instance_history``.

    One definition, so a finished try is copied to history column for column.
    """

    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    # -1 means "not mapped", as in Airflow; a real value keeps the unique key NULL-free.
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    try_number: Mapped[int] = mapped_column(Integer, default=0)
    max_tries: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[TaskInstanceState | None] = mapped_column(
        StrEnumType(TaskInstanceState, STATE_LEN)
    )
    pool: Mapped[str] = mapped_column(String(256), default=DEFAULT_POOL)
    pool_slots: Mapped[int] = mapped_column(Integer, default=1)
    priority_weight: Mapped[int] = mapped_column(Integer, default=1)
    queue: Mapped[str] = mapped_column(String(256), default=DEFAULT_QUEUE)
    operator: Mapped[str | None] = mapped_column(String(1000))
    hostname: Mapped[str | None] = mapped_column(String(1000))
    pid: Mapped[int | None] = mapped_column(Integer)
    last_heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    scheduled_dttm: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    queued_dttm: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    start_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    end_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    duration: Mapped[float | None] = mapped_column(Float)
    #: When an up_for_retry instance may run again.
    next_retry_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    #: When an up_for_reschedule sensor pokes again.
    reschedule_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    executor_config: Mapped[dict[str, Any] | None] = mapped_column(Json)
    external_executor_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    queued_by_job_id: Mapped[int | None] = mapped_column(Integer)
    dag_version_id: Mapped[int | None] = mapped_column(ForeignKey("dag_version.id"))
    rendered_fields: Mapped[dict[str, Any] | None] = mapped_column(Json)
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class TaskInstance(TaskInstanceColumns, Base):
    """The current try of one (possibly mapped) task in one DAG run."""

    __tablename__ = "task_instance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)

    __table_args__ = (
        UniqueConstraint("dag_id", "run_id", "task_id", "map_index"),
        ForeignKeyConstraint(
            ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"
        ),
        # The scheduler's hot queries: ready work by state, a run's open tasks, pool usage.
        Index("ix_task_instance_state", "state"),
        Index("ix_task_instance_dag_id_run_id_state", "dag_id", "run_id", "state"),
        Index("ix_task_instance_state_pool", "state", "pool"),
        # The task instance listings' default order (Airflow's: by map index), of every DAG, of
        # one, of one run: a page read from an index instead of a sort of the whole history.
        # The run's own one also keeps SQLite from reading a run's rows through the DAG's.
        Index("ix_task_instance_map_index_id", "map_index", "id"),
        Index("ix_task_instance_dag_id_map_index_id", "dag_id", "map_index", "id"),
        Index("ix_task_instance_dag_id_run_id_map_index_id", "dag_id", "run_id", "map_index", "id"),
    )


class TaskInstanceHistory(TaskInstanceColumns, Base):
    """One finished try of a task instance, kept when the instance is retried or cleared."""

    __tablename__ = "task_instance_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_instance_id: Mapped[int | None] = mapped_column(
        ForeignKey("task_instance.id", ondelete="CASCADE")
    )

    __table_args__ = (
        # Named by hand: the conventional name passes PostgreSQL's 63-character limit.
        UniqueConstraint(
            "dag_id",
            "run_id",
            "task_id",
            "map_index",
            "try_number",
            name="uq_task_instance_history_try",
        ),
        ForeignKeyConstraint(
            ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"
        ),
    )
