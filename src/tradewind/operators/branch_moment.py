"""Branches on the moment: ``BranchDayOfWeekOperator`` (the day of the week) and
``BranchDateTimeOperator`` (a window of dates or times of day), as Airflow's standard ones.

Each follows ``follow_task_ids_if_true`` when the moment is in, else
``follow_task_ids_if_false``; the other direct downstream tasks are skipped. The moment is now
in the DAG's zone, or with ``use_task_logical_date`` the run's logical date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from tradewind.exceptions import DagDefinitionError
from tradewind.operators.branch import BranchMixIn
from tradewind.sdk import timezone
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.context import Context
from tradewind.sdk.weekday import WeekDay


class _BranchOnMoment(BaseOperator, BranchMixIn):
    ui_color = "#ffd3b4"

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        use_task_logical_date: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false
        self.use_task_logical_date = use_task_logical_date

    def _moment(self, context: Context) -> dt.datetime:
        zone = self.dag.timezone if self.has_dag else dt.UTC
        logical = context.get("logical_date") if self.use_task_logical_date else None
        return (logical or timezone.utcnow()).astimezone(zone)

    def _holds(self, moment: dt.datetime) -> bool:
        raise NotImplementedError

    def execute(self, context: Context) -> Any:
        moment = self._moment(context)
        holds = self._holds(moment)
        self.log.info("%s: %s", moment.isoformat(), "in" if holds else "out")
        chosen = self.follow_task_ids_if_true if holds else self.follow_task_ids_if_false
        return self.do_branch(context, chosen if isinstance(chosen, str) else list(chosen))


class BranchDayOfWeekOperator(_BranchOnMoment):
    """Follows ``follow_task_ids_if_true`` on the days ``week_day`` names."""

    def __init__(self, *, week_day: str | WeekDay | Iterable[str | WeekDay], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.week_day = week_day
        self._days = WeekDay.validate_week_day(week_day)

    def _holds(self, moment: dt.datetime) -> bool:
        return moment.isoweekday() in self._days


class BranchDateTimeOperator(_BranchOnMoment):
    """Follows ``follow_task_ids_if_true`` when the moment lies between ``target_lower`` and
    ``target_upper`` (datetimes, or times of day on the moment's date; a window of times that
    ends before it starts runs past midnight). Either bound may be None (open)."""

    def __init__(
        self,
        *,
        target_lower: dt.datetime | dt.time | None,
        target_upper: dt.datetime | dt.time | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if target_lower is None and target_upper is None:
            raise DagDefinitionError(
                f"task {self.task_id!r}: give target_lower, target_upper or both"
            )
        self.target_lower = target_lower
        self.target_upper = target_upper

    def _holds(self, moment: dt.datetime) -> bool:
        lower = _on(moment, self.target_lower)
        upper = _on(moment, self.target_upper)
        if lower is not None and upper is not None and upper < lower:
            if isinstance(self.target_upper, dt.time):  # a window across midnight
                return moment >= lower or moment <= upper
            raise DagDefinitionError(f"task {self.task_id!r}: target_upper is before target_lower")
        return (lower is None or lower <= moment) and (upper is None or moment <= upper)


def _on(moment: dt.datetime, bound: dt.datetime | dt.time | None) -> dt.datetime | None:
    """``bound`` as a datetime comparable with ``moment`` (a time of day on its date)."""
    if bound is None:
        return None
    if isinstance(bound, dt.datetime):
        return timezone.coerce_utc(bound, moment.tzinfo or dt.UTC)
    return dt.datetime.combine(moment.date(), bound.replace(tzinfo=None), moment.tzinfo)
