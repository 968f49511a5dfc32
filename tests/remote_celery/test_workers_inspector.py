"""The scheduler's worker inspector: asks the workers on a real broker, and when the broker
cannot be reached logs it once per streak of failures instead of raising, and stops when
told."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy.engine import Engine

from tradewind.exceptions import BrokerUnreachable
from tradewind.remote import celery_app, worker_inspector

from .brokers import BROKER_URLS, require

UNREACHABLE = "redis://127.0.0.1:1/0"


@pytest.mark.parametrize("url", BROKER_URLS)
def test_asking_a_broker_answers_a_list(url: str) -> None:
    """Every worker on the broker answers (other tests' too): names and queues, never an
    error."""
    app = celery_app.create_app(require(url))
    try:
        started = time.monotonic()
        answers = worker_inspector.ask_workers(app, timeout=0.5)
        assert time.monotonic() - started < 5
    finally:
        app.close()
    assert all("@" in a.worker_name and a.answered_at.tzinfo for a in answers), answers


def test_an_unreachable_broker_raises_broker_unreachable() -> None:
    app = celery_app.create_app(UNREACHABLE)
    try:
        with pytest.raises(BrokerUnreachable, match=r"could not ask the workers on broker redis"):
            worker_inspector.ask_workers(app)
    finally:
        app.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_thread_logs_a_broker_failure_once_and_stops(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    inspector = worker_inspector.WorkerInspector(
        celery_app.create_app(UNREACHABLE), engine, interval=0.05
    )
    caplog.set_level(logging.INFO, logger="tradewind.executor")
    inspector.start()
    try:
        deadline = time.monotonic() + 20
        while inspector.rounds < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        inspector.stop()
    assert inspector.rounds >= 2
    assert not inspector.alive
    warnings = [r for r in caplog.records if "Could not record the celery workers" in r.message]
    assert len(warnings) == 1, caplog.records
