"""The DAG processor's row in the ``job`` table: registered when it starts, its heartbeat
kept at every scan, ended when it stops, so ``/api/v2/monitor/health`` can tell whether DAG
files are being parsed."""

from __future__ import annotations

import logging
import os
import socket

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.db import engine as db_engine
from tradewind.db.models import Job, JobState, JobType
from tradewind.scheduler import run_transitions
from tradewind.sdk import timezone

log = logging.getLogger("tradewind.dag_processor")


def register(engine: Engine) -> int | None:
    """A running job row for this process; None (and a logged error) when it cannot be written."""

    def add(session: Session) -> int:
        job = Job(
            job_type=JobType.DAG_PROCESSOR.value,
            state=JobState.RUNNING.value,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            latest_heartbeat=timezone.utcnow(),
        )
        session.add(job)
        session.flush()
        return job.id

    try:
        return db_engine.run_in_transaction(engine, add)
    except Exception:  # parsing goes on without a heartbeat
        log.exception("Could not register the DAG processor's job")
        return None


def heartbeat(engine: Engine, job_id: int | None) -> None:
    _update(engine, job_id, end=False)


def end(engine: Engine, job_id: int | None) -> None:
    _update(engine, job_id, end=True)


def _update(engine: Engine, job_id: int | None, *, end: bool) -> None:
    if job_id is None:
        return

    def write(session: Session) -> None:
        job = session.get(Job, job_id)
        if job is None:
            return
        now = timezone.utcnow()
        run_transitions.beat(job, now)
        if end:
            run_transitions.end_job(job, now)

    try:
        db_engine.run_in_transaction(engine, write)
    except Exception:  # a missed beat is not worth stopping for
        log.exception("Could not write the DAG processor's heartbeat")
