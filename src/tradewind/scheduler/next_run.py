"""Where a DAG's next scheduled run falls, kept on its ``dag`` row for the scheduler and UI."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.db.models import Dag, DagRun
from tradewind.sdk.dag import DAG
from tradewind.sdk.states import DagRunType
from tradewind.timetables.base import DagRunInfo, DataInterval, TimeRestriction

AUTOMATED_RUN_TYPES = (DagRunType.SCHEDULED.value, DagRunType.BACKFILL.value)


def restriction_for(dag: DAG) -> TimeRestriction:
    return TimeRestriction(earliest=dag.start_date, latest=dag.end_date, catchup=dag.catchup)


def last_automated_interval(session: Session, dag_id: str) -> DataInterval | None:
    """The data interval of the latest scheduled or backfill run of the DAG."""
    row = session.execute(
        select(DagRun.data_interval_start, DagRun.data_interval_end)
        .where(DagRun.dag_id == dag_id, DagRun.run_type.in_(AUTOMATED_RUN_TYPES))
        .where(
            DagRun.logical_date
            == select(func.max(DagRun.logical_date))
            .where(DagRun.dag_id == dag_id, DagRun.run_type.in_(AUTOMATED_RUN_TYPES))
            .scalar_subquery()
        )
    ).first()
    if row is None or row[0] is None or row[1] is None:
        return None
    return DataInterval(row[0], row[1])


def set_next_dagrun(row: Dag, info: DagRunInfo | None) -> None:
    if info is None:
        row.next_dagrun = None
        row.next_dagrun_data_interval_start = None
        row.next_dagrun_data_interval_end = None
        row.next_dagrun_create_after = None
        return
    row.next_dagrun = info.logical_date
    row.next_dagrun_data_interval_start = info.data_interval.start
    row.next_dagrun_data_interval_end = info.data_interval.end
    row.next_dagrun_create_after = info.run_after


def refresh_next_dagrun(session: Session, row: Dag, dag: DAG, now: datetime) -> DagRunInfo | None:
    """Recompute the next run from the latest automated run (used on parse and on unpause)."""
    if not dag.timetable.can_be_scheduled:
        set_next_dagrun(row, None)
        return None
    info = dag.timetable.next_dagrun_info(
        last_automated_data_interval=last_automated_interval(session, dag.dag_id),
        restriction=restriction_for(dag),
        now=now,
    )
    set_next_dagrun(row, info)
    return info


def advance_next_dagrun(row: Dag, dag: DAG, created: DataInterval, now: datetime) -> None:
    """After creating the run for ``created``, point the row at the one after it."""
    info = dag.timetable.next_dagrun_info(
        last_automated_data_interval=created, restriction=restriction_for(dag), now=now
    )
    set_next_dagrun(row, info)
