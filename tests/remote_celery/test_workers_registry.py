"""The worker registry and the listing over it, on SQLite and PostgreSQL: answers stored and
updated by name, forgotten after a week; a worker listed while its answer or its running
tries' heartbeats are recent, online while it answers, with the count of its running tries.
Deciding (``describe``) and reading Celery's replies are tested as plain tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tradewind.db import engine as db_engine
from tradewind.db.models import CeleryWorker
from tradewind.remote import worker_inspector, worker_registry
from tradewind.services import workers
from tradewind.services.workers import TriesOnWorker, WorkerState, WorkerWindow

from .worker_rows import add_tries, answer, record

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = WorkerWindow(seen=timedelta(minutes=5), online=timedelta(seconds=22))


def _rows(engine: Engine) -> dict[str, tuple[list[str], int | None, int | None, datetime]]:
    return db_engine.run_in_transaction(
        engine,
        lambda s: {
            row.worker_name: (row.queues, row.concurrency, row.pid, row.last_heartbeat_at)
            for row in s.scalars(select(CeleryWorker))
        },
        readonly=True,
    )


def test_answers_are_stored_updated_by_name_and_forgotten_after_a_week(engine: Engine) -> None:
    record(engine, [answer("w1@a", NOW, ["q1", "q2"]), answer("w2@b", NOW)], NOW)
    assert _rows(engine) == {
        "w1@a": (["q1", "q2"], 4, 100, NOW),
        "w2@b": (["default"], 4, 100, NOW),
    }
    later = NOW + timedelta(seconds=10)
    record(engine, [answer("w1@a", later, ["q3"], concurrency=8, pid=200, up=5)], later)
    rows = _rows(engine)
    assert rows["w1@a"] == (["q3"], 8, 200, later) and rows["w2@b"][3] == NOW
    stored = db_engine.run_in_transaction(
        engine, lambda s: worker_registry.recent(s, NOW - timedelta(seconds=1)), readonly=True
    )
    assert [a.worker_name for a in stored] == ["w1@a", "w2@b"]
    assert stored[0].started_at == later - timedelta(seconds=5)
    # A week after its last answer a worker is forgotten when answers are next recorded.
    week = NOW + worker_registry.FORGET_AFTER + timedelta(seconds=1)
    record(engine, [answer("w1@a", week)], week)
    assert set(_rows(engine)) == {"w1@a"}


def test_recent_reads_old_rows_only_when_named(engine: Engine) -> None:
    record(engine, [answer("old@a", NOW - timedelta(hours=1)), answer("new@b", NOW)], NOW)

    def names(also: set[str]) -> list[str]:
        return db_engine.run_in_transaction(
            engine,
            lambda s: [
                a.worker_name
                for a in worker_registry.recent(s, NOW - timedelta(minutes=5), also=also)
            ],
            readonly=True,
        )

    assert names(set()) == ["new@b"]
    assert names({"old@a", "nobody@x"}) == ["new@b", "old@a"]


def test_the_listing_counts_running_tries_and_takes_their_heartbeats(engine: Engine) -> None:
    now = datetime.now(UTC)
    record(
        engine,
        [
            answer("busy@a", now - timedelta(seconds=3), ["q1"]),
            # Silent for ten minutes, but its try heartbeat a second ago: listed, and lost.
            answer("quiet@b", now - timedelta(minutes=10)),
            answer("gone@c", now - timedelta(minutes=10)),
        ],
        now,
    )
    add_tries(
        engine,
        [
            ("busy@a", "running", now - timedelta(seconds=1)),
            ("busy@a", "running", now - timedelta(seconds=2)),
            ("busy@a", "success", now),  # ended: not running, its beat does not count
            ("quiet@b", "running", now - timedelta(seconds=1)),
            ("scheduler-host", "running", now),  # a local try: no worker of that name
        ],
    )
    found = db_engine.run_in_transaction(
        engine,
        lambda s: workers.list_workers(s, now=now, window=WINDOW),
        readonly=True,
    )
    assert [(w.worker_name, w.state, w.running_tries) for w in found] == [
        ("busy@a", WorkerState.ONLINE, 2),
        ("quiet@b", WorkerState.LOST, 1),
    ]
    assert found[0].queues == ["q1"] and found[0].concurrency == 4 and found[0].pid == 100
    assert found[0].last_heartbeat == now - timedelta(seconds=1)
    assert found[1].last_heartbeat == now - timedelta(seconds=1)


def test_the_listing_is_empty_without_workers(engine: Engine) -> None:
    assert (
        db_engine.run_in_transaction(
            engine,
            lambda s: workers.list_workers(s, now=NOW, window=WINDOW),
            readonly=True,
        )
        == []
    )


@pytest.mark.parametrize(
    ("answered", "beat", "listed"),
    [
        (timedelta(seconds=0), None, WorkerState.ONLINE),
        (timedelta(seconds=22), None, WorkerState.ONLINE),
        (timedelta(seconds=23), None, WorkerState.LOST),
        (timedelta(minutes=5), None, WorkerState.LOST),
        (timedelta(minutes=5, seconds=1), None, None),
        (timedelta(hours=2), timedelta(minutes=4), WorkerState.LOST),
        (timedelta(hours=2), timedelta(minutes=6), None),
    ],
)
def test_describe_lists_by_the_latest_sign_of_life(
    answered: timedelta, beat: timedelta | None, listed: WorkerState | None
) -> None:
    tries = {"w@a": TriesOnWorker(1, NOW - beat)} if beat is not None else {}
    found = workers.describe([answer("w@a", NOW - answered)], tries, NOW, WINDOW)
    assert [w.state for w in found] == ([] if listed is None else [listed])


def test_describe_takes_the_latest_answer_of_each_worker_and_sorts_by_name() -> None:
    stored = [answer("b@x", NOW - timedelta(minutes=2), ["old"]), answer("a@x", NOW)]
    live = [answer("b@x", NOW, ["new"], concurrency=2)]
    found = workers.describe([*stored, *live], {}, NOW, WINDOW)
    assert [(w.worker_name, w.state, w.queues, w.concurrency) for w in found] == [
        ("a@x", WorkerState.ONLINE, ["default"], 4),
        ("b@x", WorkerState.ONLINE, ["new"], 2),
    ]
    assert found[1].running_tries == 0 and found[1].last_heartbeat == NOW


def test_the_window_comes_from_the_settings(settings) -> None:  # type: ignore[no-untyped-def]
    window = WorkerWindow.from_settings(
        settings.with_values(celery__worker_inspect_interval=10.0, celery__worker_seen_window=60.0)
    )
    assert window == WorkerWindow(seen=timedelta(seconds=60), online=timedelta(seconds=22))


def test_celery_replies_become_answers() -> None:
    queues = {
        "w2@b": [{"name": "q2", "exchange": {}}, {"routing_key": "no name"}],
        "w1@a": [{"name": "default"}],
        "odd@c": "not a list",
    }
    stats = {
        "w1@a": {"pid": 41, "uptime": 30, "pool": {"max-concurrency": 16}},
        "w2@b": {"pid": "?", "pool": "threads"},
    }
    answers = worker_inspector.answers_from_replies(queues, stats, NOW)
    assert [
        (a.worker_name, a.queues, a.concurrency, a.pid, a.started_at, a.answered_at)
        for a in answers
    ] == [
        ("odd@c", (), None, None, None, NOW),
        ("w1@a", ("default",), 16, 41, NOW - timedelta(seconds=30), NOW),
        ("w2@b", ("q2",), None, None, None, NOW),
    ]
    assert worker_inspector.answers_from_replies(None, None, NOW) == []
