"""``services.backfill`` where the CLI cannot reach: a run made for an interval between the
backfill's plan and its insert (by a scheduler, say) is kept, and the backfill skips it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tradewind.db import engine as db_engine
from tradewind.db.models import BackfillDagRun
from tradewind.sdk import timezone
from tradewind.services import backfill, dag_runs

from .helpers import day


def test_an_interval_taken_meanwhile_is_skipped_not_duplicated(
    harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.write(
        "raced.py",
        """
        from datetime import datetime
        from tradewind import DAG, EmptyOperator
        with DAG("raced", schedule="@daily", start_date=datetime(2024, 1, 1),
                 is_paused_upon_creation=True) as dag:
            EmptyOperator(task_id="t")
    """,
    )
    harness.parse()
    planned_by_the_service = backfill.plan

    def plan_then_lose_the_race(
        session: Any, *args: Any, **kwargs: Any
    ) -> list[backfill.PlannedRun]:
        planned = planned_by_the_service(session, *args, **kwargs)
        dag_runs.trigger(
            session, "raced", run_id="made_meanwhile", logical_date=day(2), now=timezone.utcnow()
        )
        return planned

    monkeypatch.setattr(backfill, "plan", plan_then_lose_the_race)
    info, done = db_engine.run_in_transaction(
        harness.engine, lambda s: backfill.create(s, "raced", start=day(1), end=day(3))
    )
    assert [item.action for item in done] == ["create", "skip", "create"]
    assert info.total == 2
    assert [(run.logical_date.day, run.run_id) for run in harness.runs("raced")] == [
        (1, "backfill__2024-01-01T00:00:00+00:00"),
        (2, "made_meanwhile"),
        (3, "backfill__2024-01-03T00:00:00+00:00"),
    ]
    rows = harness.read(
        lambda s: [
            (row.dag_run_id is None, row.exception_reason)
            for row in s.scalars(select(BackfillDagRun).order_by(BackfillDagRun.sort_ordinal))
        ]
    )
    assert rows == [(False, None), (True, "a run was created for it meanwhile"), (False, None)]
