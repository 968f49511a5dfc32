"""``LatestOnlyOperator``: the latest scheduled run proceeds; an older one skips what is
downstream (trigger rules carry the skip); a run triggered by hand always proceeds."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tradewind import DAG, EmptyOperator
from tradewind.operators.latest_only import LatestOnlyOperator
from tradewind.runner.runtime import RunInfo
from tradewind.sdk import timezone
from tradewind.sdk.states import DagRunType
from tradewind.services.dag_test import LocalDagRun


def _dag() -> DAG:
    with DAG("latest", schedule="@daily", start_date=datetime(2024, 1, 1)) as dag:
        gate = LatestOnlyOperator(task_id="gate")
        gate >> EmptyOperator(task_id="next") >> EmptyOperator(task_id="after")
        EmptyOperator(task_id="free")
    return dag


def _states(run_type: DagRunType, interval_end: datetime) -> dict[str, str]:
    dag = _dag()
    start = interval_end - timedelta(days=1)
    run = RunInfo(
        dag_id="latest",
        run_id=f"{run_type.value}__{start.isoformat()}",
        logical_date=start,
        data_interval_start=start,
        data_interval_end=interval_end,
        run_type=run_type.value,
        conf={},
        run_after=interval_end,
    )
    result = LocalDagRun(dag, run, use_retry_delay=False).execute()
    return {ti.key: ti.state.value for ti in result.task_instances if ti.state}


def _midnight(days_ago: int) -> datetime:
    today = timezone.utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


def test_the_latest_scheduled_run_proceeds() -> None:
    states = _states(DagRunType.SCHEDULED, _midnight(0))
    assert states == {"gate": "success", "next": "success", "after": "success", "free": "success"}


@pytest.mark.parametrize("run_type", [DagRunType.SCHEDULED, DagRunType.BACKFILL])
def test_an_older_run_skips_what_is_downstream(run_type: DagRunType) -> None:
    states = _states(run_type, _midnight(7))
    assert states == {"gate": "success", "next": "skipped", "after": "skipped", "free": "success"}


def test_a_run_triggered_by_hand_proceeds() -> None:
    states = _states(DagRunType.MANUAL, _midnight(7))
    assert states["next"] == states["after"] == "success"
