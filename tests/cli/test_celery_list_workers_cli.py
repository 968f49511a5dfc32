"""``tradewind celery list-workers`` through click, on both backends: the workers of the
registry seen recently, as table, json or plain; an empty list is not an error; a broker that
cannot be asked (``--inspect``) is one line on stderr."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result
from remote_celery.worker_rows import add_tries, answer, record
from sqlalchemy.engine import Engine

from tradewind.cli.main import cli
from tradewind.services import workers


@pytest.fixture
def run(tradewind_env: dict[str, str]):  # type: ignore[no-untyped-def]
    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env={**tradewind_env, **(env or {})})

    return invoke


def test_no_workers_is_an_empty_list(run) -> None:  # type: ignore[no-untyped-def]
    result = run("celery", "list-workers", "-o", "json")
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])
    assert run("celery", "list-workers").stdout == "No data found\n"


def test_recent_workers_are_listed_in_every_format(run, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    record(
        engine,
        [
            answer("w1@a", now - timedelta(seconds=1), ["default", "gpu"], concurrency=16),
            answer("w2@b", now - timedelta(seconds=100)),
            answer("w3@c", now - timedelta(seconds=100)),
        ],
        now,
    )
    add_tries(engine, [("w1@a", "running", now), ("w1@a", "running", None)])
    rows = json.loads(run("celery", "list-workers", "-o", "json").stdout)
    assert [list(row) for row in rows] == [list(workers.FIELDS)] * 3
    assert [
        (r["worker_name"], r["state"], r["queues"], r["concurrency"], r["running_tries"])
        for r in rows
    ] == [
        ("w1@a", "online", ["default", "gpu"], 16, 2),
        ("w2@b", "lost", ["default"], 4, 0),
        ("w3@c", "lost", ["default"], 4, 0),
    ]
    # A shorter window (seconds) leaves out the workers silent for longer.
    short = run(
        "celery", "list-workers", "-o", "json", env={"TRADEWIND__CELERY__WORKER_SEEN_WINDOW": "30"}
    )
    assert [r["worker_name"] for r in json.loads(short.stdout)] == ["w1@a"]
    table = run("celery", "list-workers").stdout.splitlines()
    assert [cell.strip() for cell in table[0].split(" | ")][:3] == [
        "worker_name",
        "state",
        "queues",
    ]
    assert [cell.strip() for cell in table[2].split(" | ")][:3] == [
        "w1@a",
        "online",
        '["default", "gpu"]',
    ]
    plain = run("celery", "list-workers", "-o", "plain").stdout.splitlines()
    assert [line.split()[0] for line in plain] == ["worker_name", "w1@a", "w2@b", "w3@c"]


def test_inspect_with_an_unreachable_broker_is_a_clear_error(run) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "celery",
        "list-workers",
        "--inspect",
        env={"TRADEWIND__CELERY__BROKER_URL": "redis://127.0.0.1:1/0"},
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: could not ask the workers on broker redis://")
    assert "Connection refused" in result.stderr and len(result.stderr.splitlines()) == 1
