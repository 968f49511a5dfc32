"""The celery workers seen recently, as the Workers page, ``GET /api/v2/workers`` and
``tradewind celery list-workers`` show them.

A worker is listed while its last sign of life is within ``[celery] worker_seen_window``: its
last answer to the scheduler's inspection (``remote.worker_registry``) or the last heartbeat
of a try it runs (tries record the worker's node name as their ``hostname``), whichever is
later. It is ``online`` while it answered within two inspection intervals (plus the time one
inspection may take), else ``lost``: a worker whose tries still heartbeat but that stopped
answering is shown, and shown as such. Deciding is a pure function (``describe``) over the
rows loaded in two queries.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.config import Settings
from tradewind.db.models import TaskInstance
from tradewind.executors import registry as executors
from tradewind.remote import worker_registry
from tradewind.remote.worker_registry import WorkerAnswer
from tradewind.sdk.states import TaskInstanceState
from tradewind.services import scheduler_health

#: Seconds one inspection may take beyond its interval: two remote control calls (queues,
#: then stats) that each wait up to a second for answers.
INSPECTION_SECONDS = 2.0


class WorkerState(enum.StrEnum):
    """Whether a listed worker still answers remote control."""

    ONLINE = "online"
    LOST = "lost"


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
    """One listed worker; ``last_heartbeat`` is its last sign of life (answer or try
    heartbeat), ``running_tries`` the task instances running on it."""

    worker_name: str
    state: WorkerState
    queues: list[str]
    concurrency: int | None
    running_tries: int
    pid: int | None
    started_at: datetime | None
    last_heartbeat: datetime | None


#: The order of the fields in listings (CLI columns, table of the page).
FIELDS = tuple(field.name for field in dataclasses.fields(WorkerInfo))


@dataclasses.dataclass(frozen=True)
class WorkerWindow:
    """How long a worker stays listed, and how recent an answer keeps it online."""

    seen: timedelta
    online: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerWindow:
        interval = float(settings.get("celery", "worker_inspect_interval"))
        return cls(
            seen=timedelta(seconds=float(settings.get("celery", "worker_seen_window"))),
            online=timedelta(seconds=2 * interval + INSPECTION_SECONDS),
        )


@dataclasses.dataclass(frozen=True)
class TriesOnWorker:
    """The running tries of one worker: how many, and their latest heartbeat."""

    running: int
    last_heartbeat: datetime | None


def describe(
    answers: Sequence[WorkerAnswer],
    tries: Mapping[str, TriesOnWorker],
    now: datetime,
    window: WorkerWindow,
) -> list[WorkerInfo]:
    """The workers to list, by name: of each worker its latest answer in ``answers``, with
    the tries of ``tries`` that ran on it. A worker never answered (only tries name it) is
    not listed: with the local executor, tries record the scheduler's host."""
    latest: dict[str, WorkerAnswer] = {}
    for answer in answers:
        known = latest.get(answer.worker_name)
        if known is None or answer.answered_at > known.answered_at:
            latest[answer.worker_name] = answer
    listed = []
    for name in sorted(latest):
        answer = latest[name]
        on_it = tries.get(name, TriesOnWorker(0, None))
        beats = [answer.answered_at, on_it.last_heartbeat]
        last = max(beat for beat in beats if beat is not None)
        if now - last > window.seen:
            continue
        online = now - answer.answered_at <= window.online
        listed.append(
            WorkerInfo(
                worker_name=name,
                state=WorkerState.ONLINE if online else WorkerState.LOST,
                queues=list(answer.queues),
                concurrency=answer.concurrency,
                running_tries=on_it.running,
                pid=answer.pid,
                started_at=answer.started_at,
                last_heartbeat=last,
            )
        )
    return listed


def running_tries(session: Session) -> dict[str, TriesOnWorker]:
    """Hostname -> the running tries that recorded it."""
    rows = session.execute(
        select(
            TaskInstance.hostname,
            func.count(TaskInstance.id),
            func.max(TaskInstance.last_heartbeat_at),
        )
        .where(
            TaskInstance.state == TaskInstanceState.RUNNING.value,
            TaskInstance.hostname.is_not(None),
        )
        .group_by(TaskInstance.hostname)
    ).all()
    return {str(host): TriesOnWorker(int(count), beat) for host, count, beat in rows}


def list_workers(
    session: Session,
    *,
    now: datetime,
    window: WorkerWindow,
    live: Sequence[WorkerAnswer] = (),
) -> list[WorkerInfo]:
    """The workers seen within ``window.seen`` of ``now``; ``live`` answers (an inspection
    made for this listing) count with the stored ones."""
    tries = running_tries(session)
    stored = worker_registry.recent(session, now - window.seen, also=tries)
    return describe([*stored, *live], tries, now, window)


def executor_kind(session: Session, settings: Settings) -> str:
    """The executor of the running scheduler, else the one ``[core] executor`` names."""
    running = scheduler_health.latest_scheduler_executor(session)
    return running or executors.executor_name(settings.get("core", "executor"))
