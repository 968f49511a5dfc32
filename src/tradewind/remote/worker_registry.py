"""The registry of celery workers: what each worker said when it last answered the
scheduler's remote control inspection, one ``celery_worker`` row per Celery node.

Workers never write here (they have no database access): the scheduler's celery executor
records their answers (``remote.worker_inspector``), and the listings read them back
(``services.workers``). Rows are upserted by node name, so several schedulers recording the
same worker at once do not fail on the key; a row not answered for ``FORGET_AFTER`` is deleted
when answers are next recorded, so the table does not grow with every container a
deployment ever scaled up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from tradewind.db.models import CeleryWorker
from tradewind.db.upsert import upsert

#: A worker silent this long is forgotten (far beyond any listing window).
FORGET_AFTER = timedelta(days=7)

_ANSWER_COLUMNS = ("queues", "concurrency", "pid", "started_at", "last_heartbeat_at")


@dataclasses.dataclass(frozen=True)
class WorkerAnswer:
    """One worker's answer to an inspection (or its stored row): ``answered_at`` is when the
    answer came, ``started_at`` when its process started (None: it did not say)."""

    worker_name: str
    queues: tuple[str, ...]
    concurrency: int | None
    pid: int | None
    started_at: datetime | None
    answered_at: datetime


def record(session: Session, answers: Sequence[WorkerAnswer], now: datetime) -> None:
    """Store ``answers`` (insert or update each worker's row), and forget the workers silent
    for ``FORGET_AFTER`` before ``now``."""
    # Sorted: two schedulers updating the same rows take their locks in the same order.
    for answer in sorted(answers, key=lambda a: a.worker_name):
        upsert(
            session,
            CeleryWorker,
            {
                "worker_name": answer.worker_name,
                "queues": list(answer.queues),
                "concurrency": answer.concurrency,
                "pid": answer.pid,
                "started_at": answer.started_at,
                "last_heartbeat_at": answer.answered_at,
            },
            key=["worker_name"],
            update=_ANSWER_COLUMNS,
        )
    session.execute(delete(CeleryWorker).where(CeleryWorker.last_heartbeat_at < now - FORGET_AFTER))


def recent(session: Session, since: datetime, also: Collection[str] = ()) -> list[WorkerAnswer]:
    """The stored answers of workers that answered at ``since`` or later, and of the workers
    named in ``also`` however old their answer, by name."""
    condition = CeleryWorker.last_heartbeat_at >= since
    if also:
        condition = or_(condition, CeleryWorker.worker_name.in_(sorted(also)))
    rows = session.scalars(
        select(CeleryWorker).where(condition).order_by(CeleryWorker.worker_name)
    ).all()
    return [
        WorkerAnswer(
            worker_name=row.worker_name,
            queues=tuple(row.queues or ()),
            concurrency=row.concurrency,
            pid=row.pid,
            started_at=row.started_at,
            answered_at=row.last_heartbeat_at,
        )
        for row in rows
    ]
