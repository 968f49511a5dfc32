"""A backfill is complete once none of its runs is queued or running."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.db.models import Backfill, BackfillDagRun, DagRun
from tradewind.scheduler import run_transitions
from tradewind.sdk.states import DagRunState

_OPEN = (DagRunState.QUEUED.value, DagRunState.RUNNING.value)


def refresh_completion(session: Session, row: Backfill, now: datetime) -> bool:
    """Mark ``row`` completed when it has no open run left; True when it is (or was) complete."""
    if row.completed_at is not None:
        return True
    open_runs = session.scalar(
        select(func.count())
        .select_from(DagRun)
        .join(BackfillDagRun, BackfillDagRun.dag_run_id == DagRun.id)
        .where(BackfillDagRun.backfill_id == row.id, DagRun.state.in_(_OPEN))
    )
    if open_runs:
        return False
    run_transitions.complete(row, now)
    return True


def refresh_all(session: Session, now: datetime) -> int:
    """Complete every open backfill whose runs have all finished; returns how many."""
    completed = 0
    for row in session.scalars(select(Backfill).where(Backfill.completed_at.is_(None))):
        if refresh_completion(session, row, now):
            completed += 1
    return completed
