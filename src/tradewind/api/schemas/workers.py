"""Celery workers seen recently (not in Airflow's REST API: its Celery workers are seen through
Flower; the fields follow ``airflow celery list-workers`` and the Edge workers' listing)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from pydantic import BaseModel

from tradewind.services import workers


class WorkerResponse(BaseModel):
    worker_name: str
    state: workers.WorkerState
    queues: list[str]
    concurrency: int | None = None
    running_tries: int
    pid: int | None = None
    started_at: datetime | None = None
    last_heartbeat: datetime | None = None

    @classmethod
    def of(cls, info: workers.WorkerInfo) -> WorkerResponse:
        # The same fields as the listing, by design (CLI, REST and UI show the same).
        return cls(**dataclasses.asdict(info))


class WorkerCollectionResponse(BaseModel):
    workers: list[WorkerResponse]
    total_entries: int
