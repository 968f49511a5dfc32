"""``BranchDayOfWeekOperator`` and ``BranchDateTimeOperator`` follow one side by the moment
(now, or the run's logical date) and skip the other."""

from __future__ import annotations

import datetime as dt

import pytest

from tradewind import DAG, EmptyOperator
from tradewind.exceptions import DagDefinitionError
from tradewind.operators.branch_moment import BranchDateTimeOperator, BranchDayOfWeekOperator
from tradewind.sdk.weekday import WeekDay
from tradewind.services.dag_test import LocalDagRun, make_run_info

#: The runs' logical date: a Friday, at 10:30 UTC.
LOGICAL = dt.datetime(2024, 3, 1, 10, 30, tzinfo=dt.UTC)


def _run(make_branch: object) -> dict[str, str]:
    with DAG("branching", schedule=None) as dag:
        branch = make_branch(  # type: ignore[operator]
            task_id="branch", follow_task_ids_if_true="yes", follow_task_ids_if_false="no"
        )
        branch >> [EmptyOperator(task_id="yes"), EmptyOperator(task_id="no")]
    run = make_run_info(dag, LOGICAL, {})
    result = LocalDagRun(dag, run, use_retry_delay=False).execute()
    return {ti.key: ti.state.value for ti in result.task_instances if ti.state}


def _by_day(days: object) -> dict[str, str]:
    return _run(
        lambda **kw: BranchDayOfWeekOperator(week_day=days, use_task_logical_date=True, **kw)
    )


def _by_window(lower: object, upper: object) -> dict[str, str]:
    return _run(
        lambda **kw: BranchDateTimeOperator(
            target_lower=lower, target_upper=upper, use_task_logical_date=True, **kw
        )
    )


def test_day_of_week() -> None:
    assert _by_day("friday") == {"branch": "success", "yes": "success", "no": "skipped"}
    assert _by_day({WeekDay.SATURDAY, WeekDay.SUNDAY})["yes"] == "skipped"


@pytest.mark.parametrize(
    ("lower", "upper", "inside"),
    [
        (dt.time(10), dt.time(11), True),
        (dt.time(11), dt.time(12), False),
        (dt.time(22), dt.time(11), True),  # across midnight
        (None, dt.time(9), False),
        (dt.datetime(2024, 3, 1, tzinfo=dt.UTC), dt.datetime(2024, 3, 2, tzinfo=dt.UTC), True),
        (dt.datetime(2024, 3, 2, tzinfo=dt.UTC), None, False),
    ],
)
def test_date_time_window(lower: object, upper: object, inside: bool) -> None:
    states = _by_window(lower, upper)
    assert (states["yes"], states["no"]) == (
        ("success", "skipped") if inside else ("skipped", "success")
    )


def test_a_window_needs_a_bound() -> None:
    with pytest.raises(DagDefinitionError, match="give target_lower, target_upper or both"):
        BranchDateTimeOperator(
            task_id="b",
            follow_task_ids_if_true="y",
            follow_task_ids_if_false="n",
            target_lower=None,
            target_upper=None,
        )
