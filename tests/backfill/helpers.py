"""Reading backfills, runs and task instances back in backfill tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from tradewind.db.models import Backfill, BackfillDagRun, DagRun, TaskInstance

UTC = UTC


def day(n: int, month: int = 1) -> datetime:
    return datetime(2024, month, n, tzinfo=UTC)


def backfills(harness: Any, dag_id: str | None = None) -> list[Backfill]:
    def read(session: Any) -> list[Backfill]:
        query = select(Backfill).order_by(Backfill.id)
        if dag_id is not None:
            query = query.where(Backfill.dag_id == dag_id)
        return list(session.scalars(query))

    return harness.read(read)


def backfill_done(harness: Any, backfill_id: int | None = None) -> Callable[[], bool]:
    """A condition: the backfill (the latest one by default) is complete."""

    def done() -> bool:
        rows = backfills(harness)
        row = rows[-1] if backfill_id is None else next(r for r in rows if r.id == backfill_id)
        return row.completed_at is not None

    return done


def counts(harness: Any) -> dict[str, int]:
    """Rows in the tables a backfill writes to."""

    def read(session: Any) -> dict[str, int]:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Backfill, BackfillDagRun, DagRun, TaskInstance)
        }

    return harness.read(read)


def max_overlap(spans: Iterable[tuple[datetime | None, datetime | None]]) -> int:
    """Most half-open spans ``[start, end)`` that contain one instant."""
    events: list[tuple[datetime, int]] = []
    for start, end in spans:
        assert start is not None and end is not None, (start, end)
        events += [(start, 1), (end, -1)]
    events.sort(key=lambda event: (event[0], event[1]))  # an end before a start at the same instant
    most = current = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most


def created_id(output: str) -> int:
    """The id in ``Backfill <id> of <dag>: ...``, the first line ``dags backfill`` prints."""
    first = output.splitlines()[0]
    assert first.startswith("Backfill "), output
    return int(first.split()[1])
