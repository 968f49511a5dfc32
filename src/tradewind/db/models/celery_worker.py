"""The celery workers the scheduler's executor heard from, one row per Celery node.

Workers have no database access, so they never write here: the scheduler's celery executor
asks them through Celery remote control every ``[celery] worker_inspect_interval`` seconds
(``remote.worker_inspector``) and records each answer (``remote.worker_registry``). The Workers
page, ``GET /api/v2/workers`` and ``tradewind celery list-workers`` read these rows.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tradewind.db.base import Base
from tradewind.db.types import Json, UtcDateTime


class CeleryWorker(Base):
    """One worker as it last answered: its queues and pool size, and when it answered."""

    __tablename__ = "celery_worker"

    #: The Celery node name (``name@host``); its tries record it as their ``hostname``.
    worker_name: Mapped[str] = mapped_column(String(1000), primary_key=True)
    #: Names of the broker queues it consumes.
    queues: Mapped[list[str]] = mapped_column(Json)
    #: Tries it runs at once (its pool's ``max-concurrency``); None when it did not say.
    concurrency: Mapped[int | None] = mapped_column(Integer)
    pid: Mapped[int | None] = mapped_column(Integer)
    #: When the worker process started (answer time minus its uptime): a worker restarted
    #: under the same name shows its new start, which a first-seen time would hide.
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    #: When it last answered remote control.
    last_heartbeat_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_celery_worker_last_heartbeat_at", "last_heartbeat_at"),)
