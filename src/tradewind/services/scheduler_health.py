"""Whether a scheduler is alive, from its job heartbeat."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db.models import Job, JobState, JobType
from tradewind.sdk import timezone


def latest_heartbeat(session: Session, job_type: JobType = JobType.SCHEDULER) -> datetime | None:
    return session.scalar(
        select(Job.latest_heartbeat)
        .where(Job.job_type == job_type.value, Job.state == JobState.RUNNING.value)
        .order_by(Job.latest_heartbeat.desc())
        .limit(1)
    )


def latest_scheduler_executor(session: Session) -> str | None:
    """The executor of the running scheduler that beat last (None: no scheduler runs)."""
    return session.scalar(
        select(Job.executor_class)
        .where(Job.job_type == JobType.SCHEDULER.value, Job.state == JobState.RUNNING.value)
        .order_by(Job.latest_heartbeat.desc())
        .limit(1)
    )


def scheduler_alive(session: Session, within: timedelta) -> bool:
    beat = latest_heartbeat(session)
    return beat is not None and timezone.utcnow() - beat < within
