"""The Backfills page lists stored backfills with their progress."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tradewind import DAG
from tradewind.db import engine as db_engine
from tradewind.db.models import ReprocessBehavior
from tradewind.operators.empty import EmptyOperator
from tradewind.services import backfill

from .helpers import NOW


def daily_dag() -> DAG:
    with DAG("ui_daily", schedule="@daily", start_date=datetime(2024, 1, 1)) as dag:
        EmptyOperator(task_id="only")
    return dag


def test_backfills_page_shows_each_backfill_with_its_progress(
    client: TestClient,
    login: Callable[[str], str],
    store_dag: Callable[..., int],
    engine: Engine,
) -> None:
    store_dag(daily_dag())

    def create(session: Any) -> int:
        info, _ = backfill.create(
            session,
            "ui_daily",
            start=datetime(2024, 1, 1),
            end=datetime(2024, 1, 5),
            reprocess=ReprocessBehavior.NONE,
            created_by="tester",
            now=NOW,
        )
        return info.id

    backfill_id = db_engine.run_in_transaction(engine, create)
    login("Viewer")
    page = client.get("/backfills")
    assert page.status_code == 200
    assert f'data-backfill="{backfill_id}"' in page.text
    assert "0/5 runs done" in page.text
    assert "by tester" in page.text
    assert (
        client.get("/backfills", params={"dag_id": "no_such_dag"}).text.count("data-backfill=") == 0
    )


def test_backfills_page_needs_login(client: TestClient) -> None:
    response = client.get("/backfills", follow_redirects=False)
    assert response.status_code in (302, 303, 307)
