"""Jobs: long-running Tradewind processes (scheduler, worker, ...) and their heartbeats."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tradewind.db.base import STATE_LEN, Base
from tradewind.db.types import StrEnumType, UtcDateTime, utcnow


class JobType(enum.StrEnum):
    """Which kind of process a job row stands for."""

    SCHEDULER = "scheduler"
    WORKER = "worker"
    DAG_PROCESSOR = "dag_processor"
    TRIGGERER = "triggerer"


class JobState(enum.StrEnum):
    """Lifecycle of a job row (Airflow's JobState values)."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    RESTARTING = "restarting"


class Job(Base):
    """One process; others decide it is dead when ``latest_heartbeat`` grows old."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_type: Mapped[str] = mapped_column(String(30))
    state: Mapped[JobState] = mapped_column(
        StrEnumType(JobState, STATE_LEN), default=JobState.RUNNING
    )
    hostname: Mapped[str | None] = mapped_column(String(500))
    pid: Mapped[int | None] = mapped_column(Integer)
    start_date: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    end_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    latest_heartbeat: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: A scheduler's executor (``local``, ``celery``); None for other jobs.
    executor_class: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_job_job_type_state_latest_heartbeat", "job_type", "state", "latest_heartbeat"),
    )
