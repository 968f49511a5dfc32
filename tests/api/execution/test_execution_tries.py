"""A remote try's life through the execution API: start once, heartbeat while it runs, finish
once; refused (409) as soon as the task instance no longer runs that try."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tests.api.execution.conftest import WHERE, RemoteTry
from tradewind import config, wakeup
from tradewind.db import engine as db_engine
from tradewind.db.models import ExecutionEvent, TaskInstance
from tradewind.executors import celery_events
from tradewind.executors.base import TaskStarted
from tradewind.remote import tokens
from tradewind.remote.tokens import TryClaims
from tradewind.runner.messages import TaskDone
from tradewind.scheduler import outcomes
from tradewind.sdk import timezone
from tradewind.sdk.states import TaskInstanceState as TIS
from tradewind.services import remote_tries

Headers = Callable[..., dict[str, str]]


def _url(claims: TryClaims, call: str) -> str:
    return f"/execution/task-instances/{claims.ti_id}/{call}"


def _row(engine: Engine, ti_id: int) -> TaskInstance:
    found = db_engine.run_in_transaction(
        engine, lambda s: s.get(TaskInstance, ti_id), readonly=True
    )
    assert found is not None
    return found


def _events(engine: Engine, ti_id: int) -> list[tuple[int, str, dict[str, Any]]]:
    return db_engine.run_in_transaction(
        engine,
        lambda s: [
            (e.try_number, e.kind, e.payload)
            for e in s.scalars(
                select(ExecutionEvent)
                .where(ExecutionEvent.ti_id == ti_id)
                .order_by(ExecutionEvent.id)
            )
        ],
        readonly=True,
    )


def _start(client: TestClient, claims: TryClaims, try_token: Headers) -> str:
    answer = client.post(
        _url(claims, "start"), json=WHERE, headers=try_token(claims, tokens.QUEUED)
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["try_number"] == claims.try_number
    return str(answer.json()["token"])


def _done(claims: TryClaims, state: str = "success", **fields: Any) -> dict[str, Any]:
    start = timezone.utcnow() - dt.timedelta(seconds=2)
    return TaskDone(
        ti_id=claims.ti_id,
        try_number=claims.try_number,
        state=state,
        start_date=start.isoformat(),
        end_date=timezone.utcnow().isoformat(),
        xcoms=[["return_value", '"42"']],
        **fields,
    ).as_fields()


def test_start_runs_the_try_and_records_it_once(
    api_settings: config.Settings,
    client: TestClient,
    engine: Engine,
    queued_try: Callable[..., TryClaims],
    try_token: Headers,
) -> None:
    claims = queued_try()
    token = _start(client, claims, try_token)
    execution = tokens.verify(api_settings.get("api_auth", "jwt_secret"), token)
    assert (execution.ti_id, execution.try_number, execution.scope) == (
        claims.ti_id,
        1,
        tokens.EXECUTION,
    )
    row = _row(engine, claims.ti_id)
    assert row.state == TIS.RUNNING
    assert (row.hostname, row.pid) == ("worker-1", 4242)
    assert row.start_date is not None and row.last_heartbeat_at == row.start_date
    [(try_number, kind, payload)] = _events(engine, claims.ti_id)
    assert (try_number, kind, payload["hostname"], payload["pid"]) == (
        1,
        "started",
        "worker-1",
        4242,
    )

    again = client.post(_url(claims, "start"), json=WHERE, headers=try_token(claims, tokens.QUEUED))
    assert again.status_code == 409
    assert "already started" in again.json()["detail"]
    assert len(_events(engine, claims.ti_id)) == 1


def test_start_refuses_a_try_not_queued_for_that_try_number(
    client: TestClient, queued_try: Callable[..., TryClaims], try_token: Headers
) -> None:
    claims = queued_try(try_number=2)
    old = TryClaims(**{**claims.__dict__, "try_number": 1})
    answer = client.post(_url(old, "start"), json=WHERE, headers=try_token(old, tokens.QUEUED))
    assert answer.status_code == 409
    assert "is not queued for this try: it is queued at try 2" in answer.json()["detail"]


def test_a_rescheduled_sensor_keeps_its_first_start_date(
    client: TestClient, engine: Engine, queued_try: Callable[..., TryClaims], try_token: Headers
) -> None:
    first = dt.datetime(2026, 1, 1, 3, 0, tzinfo=dt.UTC)
    claims = queued_try(start_date=first, reschedule_date=first + dt.timedelta(minutes=5))
    _start(client, claims, try_token)
    assert _row(engine, claims.ti_id).start_date == first


def test_the_scheduler_applying_the_start_again_changes_nothing(
    client: TestClient, engine: Engine, queued_try: Callable[..., TryClaims], try_token: Headers
) -> None:
    claims = queued_try()
    _start(client, claims, try_token)
    before = _row(engine, claims.ti_id)
    later = timezone.utcnow() + dt.timedelta(seconds=30)
    db_engine.run_in_transaction(
        engine,
        lambda s: outcomes.record_started(
            s, [TaskStarted(claims.ti_id, pid=1, hostname="elsewhere", at=later)]
        ),
    )
    after = _row(engine, claims.ti_id)
    assert (after.state, after.hostname, after.pid, after.start_date, after.last_heartbeat_at) == (
        TIS.RUNNING,
        "worker-1",
        4242,
        before.start_date,
        before.last_heartbeat_at,
    )


def test_heartbeat_keeps_the_try_alive_and_renews_its_token(
    api_settings: config.Settings, engine: Engine, started_try: Callable[..., RemoteTry]
) -> None:
    remote = started_try()
    started = _row(engine, remote.claims.ti_id).last_heartbeat_at
    assert started is not None
    answer = remote.post("heartbeat", json={"hostname": "worker-2", "pid": 7})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ok": True}
    renewed = answer.headers["Refreshed-API-Token"]
    secret = api_settings.get("api_auth", "jwt_secret")
    assert tokens.verify(secret, renewed, scopes=(tokens.EXECUTION,)).ti_id == remote.claims.ti_id
    row = _row(engine, remote.claims.ti_id)
    assert (row.hostname, row.pid) == ("worker-2", 7)
    assert row.last_heartbeat_at is not None and row.last_heartbeat_at >= started


def test_heartbeat_of_a_try_no_longer_running_is_refused(
    started_try: Callable[..., RemoteTry],
) -> None:
    remote = started_try()
    remote.set(state=None)  # cleared from outside
    answer = remote.post("heartbeat", json=WHERE)
    assert answer.status_code == 409
    assert "no longer runs this try: it is no state at try 1" in answer.json()["detail"]
    assert "Refreshed-API-Token" not in answer.headers


def test_finish_records_the_end_once_and_a_repeat_is_answered_ok(
    client: TestClient, engine: Engine, queued_try: Callable[..., TryClaims], try_token: Headers
) -> None:
    claims = queued_try()
    _start(client, claims, try_token)
    body = {"kind": "finished", "done": _done(claims)}
    for _ in range(2):
        answer = client.post(_url(claims, "finish"), json=body, headers=try_token(claims))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"ok": True}
    kinds = [(kind, payload) for _, kind, payload in _events(engine, claims.ti_id)]
    assert [kind for kind, _ in kinds] == ["started", "finished"]
    assert kinds[1][1] == body["done"]
    died = client.post(
        _url(claims, "finish"), json={"kind": "died", "reason": "killed"}, headers=try_token(claims)
    )
    assert died.status_code == 409
    assert "already recorded as finished" in died.json()["detail"]


def test_a_repeated_finish_after_the_scheduler_applied_it_is_answered_ok(
    engine: Engine, started_try: Callable[..., RemoteTry]
) -> None:
    remote = started_try()
    done = _done(remote.claims)
    body = {"kind": "finished", "done": done}
    assert remote.post("finish", json=body).is_success
    # The scheduler applies the end and deletes the event.
    remote.set(state=TIS.SUCCESS, end_date=timezone.parse(done["end_date"]))
    db_engine.run_in_transaction(engine, lambda s: s.execute(ExecutionEvent.__table__.delete()))
    again = remote.post("finish", json=body)
    assert again.status_code == 200, again.text
    assert _events(engine, remote.claims.ti_id) == []


def test_finish_after_the_try_moved_on_is_refused(
    engine: Engine, started_try: Callable[..., RemoteTry]
) -> None:
    remote = started_try()
    claims = remote.claims
    # The scheduler failed the try for a lost heartbeat; it is up for retry.
    remote.set(state=TIS.UP_FOR_RETRY)
    answer = remote.post("finish", json={"kind": "finished", "done": _done(claims)})
    assert answer.status_code == 409
    assert "no longer runs this try: it is up_for_retry at try 1" in answer.json()["detail"]
    # Then try 2 runs; try 1's late end is refused too.
    remote.set(state=TIS.RUNNING, try_number=2)
    late = remote.post("finish", json={"kind": "died", "reason": "worker lost"})
    assert late.status_code == 409
    assert "it is running at try 2" in late.json()["detail"]
    assert [kind for _, kind, _ in _events(engine, claims.ti_id)] == ["started"]


def test_a_try_asked_to_stop_is_refused_its_heartbeats_and_its_start_but_may_end(
    client: TestClient,
    engine: Engine,
    queued_try: Callable[..., TryClaims],
    try_token: Headers,
    started_try: Callable[..., RemoteTry],
) -> None:
    """The celery executor's ``terminate``: the worker of a started try is told at its next
    heartbeat, and the try's end is recorded as usual; a try not started never starts."""
    remote = started_try()
    claims = remote.claims
    assert celery_events.request_stop(engine, claims.ti_id, 1, now=timezone.utcnow())
    answer = remote.post("heartbeat", json=WHERE)
    assert answer.status_code == 409
    assert "the scheduler asked to stop try api_example.load" in answer.json()["detail"]
    assert remote.post("finish", json={"kind": "died", "reason": "terminated"}).is_success
    assert [kind for _, kind, _ in _events(engine, claims.ti_id)] == ["started", "stop", "died"]

    waiting = queued_try("transform")
    for _ in range(2):  # a second request changes nothing
        assert not celery_events.request_stop(engine, waiting.ti_id, 1, now=timezone.utcnow())
    start = client.post(
        _url(waiting, "start"), json=WHERE, headers=try_token(waiting, tokens.QUEUED)
    )
    assert start.status_code == 409
    assert "stopped by the scheduler before it began" in start.json()["detail"]
    assert [kind for _, kind, _ in _events(engine, waiting.ti_id)] == ["stop"]
    celery_events.delete_rows_of(engine, [(claims.ti_id, 1), (waiting.ti_id, 1)])
    assert _events(engine, claims.ti_id) == _events(engine, waiting.ti_id) == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"ti_id": 999999}, "the token is for task instance"),
        ({"try_number": 5}, "the token is for task instance"),
        ({"state": "running"}, "is not an end of a try"),
        ({"end_date": "yesterday"}, "done.end_date is not an ISO 8601 datetime"),
        ({"xcoms": [["only a key"]]}, "done.xcoms must be a list of [key, encoded value] pairs"),
        ({"surprise": 1}, "done does not fit TaskDone"),
    ],
)
def test_a_finish_that_does_not_fit_says_what_is_wrong(
    started_try: Callable[..., RemoteTry], change: dict[str, Any], complaint: str
) -> None:
    remote = started_try()
    body = {"kind": "finished", "done": {**_done(remote.claims), **change}}
    answer = remote.post("finish", json=body)
    assert answer.status_code == 400
    assert complaint in answer.json()["detail"]


def test_start_and_finish_wake_the_scheduler(
    api_settings: config.Settings,
    engine: Engine,
    client: TestClient,
    queued_try: Callable[..., TryClaims],
    try_token: Headers,
) -> None:
    claims = queued_try()
    if engine.dialect.name == "postgresql":
        _assert_notified(engine, lambda: _start(client, claims, try_token))
        return
    listener = wakeup.open_listener(api_settings.home)
    if listener is None:
        pytest.skip("wake-up datagrams need Linux")
    with listener:
        _start(client, claims, try_token)
        assert wakeup.received(listener)
        finish = client.post(
            _url(claims, "finish"),
            json={"kind": "died", "reason": "worker lost"},
            headers=try_token(claims),
        )
        assert finish.status_code == 200
        assert wakeup.received(listener)


def _assert_notified(engine: Engine, act: Callable[[], Any]) -> None:
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {remote_tries.NOTIFY_CHANNEL}")
        act()
        received = list(listener.notifies(timeout=5, stop_after=1))
    assert [note.channel for note in received] == [remote_tries.NOTIFY_CHANNEL]


def test_start_in_a_service_call_is_one_transaction(
    engine: Engine, queued_try: Callable[..., TryClaims], tmp_path: Path
) -> None:
    """Refused starts leave nothing behind: not the state, not an event."""
    claims = queued_try(try_number=3)
    wrong = TryClaims(**{**claims.__dict__, "try_number": 2})
    with pytest.raises(remote_tries.TryConflict):
        db_engine.run_in_transaction(
            engine,
            lambda s: remote_tries.start(s, wrong, hostname="h", pid=1, home=tmp_path),
        )
    assert _row(engine, claims.ti_id).state == TIS.QUEUED
    assert _events(engine, claims.ti_id) == []


def test_two_deliveries_starting_at_once_start_the_try_once(
    engine: Engine, queued_try: Callable[..., TryClaims], tmp_path: Path
) -> None:
    """The second start waits for the first one's transaction (row lock on PostgreSQL, the
    write lock on SQLite), then finds the try started."""
    claims = queued_try()
    outcome: list[BaseException | remote_tries.StartedTry] = []

    def second_delivery() -> None:
        try:
            outcome.append(
                db_engine.run_in_transaction(
                    engine,
                    lambda s: remote_tries.start(s, claims, hostname="w2", pid=2, home=tmp_path),
                )
            )
        except BaseException as exc:
            outcome.append(exc)

    with db_engine.session_scope(engine) as first:
        remote_tries.start(first, claims, hostname="w1", pid=1, home=tmp_path)
        racer = threading.Thread(target=second_delivery)
        racer.start()
        racer.join(0.5)
        assert racer.is_alive(), f"the second start did not wait for the first: {outcome}"
    racer.join(30)
    [refused] = outcome
    assert isinstance(refused, remote_tries.TryConflict), refused
    assert "already started" in str(refused)
    row = _row(engine, claims.ti_id)
    assert (row.hostname, row.pid) == ("w1", 1)
    assert len(_events(engine, claims.ti_id)) == 1
