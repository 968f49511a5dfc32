"""Size caps of stored values: variable values, run and backfill confs, notes and XCom values
are refused over their limit with an error naming the field and the limit, through the REST
API, the CLI and the services, and nothing is stored."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tradewind.cli.main import cli
from tradewind.db import engine as db_engine
from tradewind.db.models import DagRun, Variable
from tradewind.exceptions import ValueTooLarge
from tradewind.runner import xcom_codec
from tradewind.runner.xcom_store import InMemoryXComStore
from tradewind.services import dag_runs, input_limits, task_instances

#: The behaviour is the same on both backends; one is enough.
ON_SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

MIB = 1024 * 1024
OVER = "x" * (MIB + 1)  # one byte over the 1 MiB caps of variable values and confs


@pytest.fixture
def run_cli(tradewind_env: dict[str, str]) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), env=tradewind_env)

    return invoke


def _count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


@ON_SQLITE
def test_the_fifty_megabyte_variable_is_refused_unread(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    answer = client.post(
        "/api/v2/variables", json={"key": "big", "value": "x" * (50 * MIB)}, headers=admin
    )
    assert answer.status_code == 413
    assert answer.json() == {
        "detail": "Request body too large: the limit is 4194304 bytes ([api] max_body_bytes)"
    }
    assert _count(engine, Variable) == 0


@ON_SQLITE
def test_variable_value_over_its_cap(
    client: TestClient, admin: dict[str, str], engine: Engine, run_cli: Callable[..., Result]
) -> None:
    answer = client.post("/api/v2/variables", json={"key": "big", "value": OVER}, headers=admin)
    assert answer.status_code == 413
    assert answer.json() == {
        "detail": (
            "the value of variable 'big' is 1,048,577 bytes, over the limit of 1,048,576 bytes "
            "(1 MiB)"
        )
    }
    structured = client.post(
        "/api/v2/variables", json={"key": "big", "value": {"rows": [OVER]}}, headers=admin
    )
    assert structured.status_code == 413
    assert (
        client.post(
            "/api/v2/variables", json={"key": "big", "value": "small"}, headers=admin
        ).status_code
        == 201
    )
    patched = client.patch(
        "/api/v2/variables/big", json={"key": "big", "value": OVER}, headers=admin
    )
    assert patched.status_code == 413 and "variable 'big'" in patched.json()["detail"]
    assert client.get("/api/v2/variables/big", headers=admin).json()["value"] == "small"
    at_cap = client.patch(
        "/api/v2/variables/big", json={"key": "big", "value": "é" * (MIB // 2)}, headers=admin
    )
    assert at_cap.status_code == 200, at_cap.text
    result = run_cli("variables", "set", "cli_big", OVER)
    assert result.exit_code != 0
    assert (
        "the value of variable 'cli_big' is 1,048,577 bytes, over the limit of 1,048,576 bytes"
        in result.stderr
    )
    assert _count(engine, Variable) == 1


@ON_SQLITE
def test_run_conf_over_its_cap(
    client: TestClient, admin: dict[str, str], engine: Engine, run_cli: Callable[..., Result]
) -> None:
    answer = client.post(
        "/api/v2/dags/api_example/dagRuns", json={"conf": {"n": 1, "blob": OVER}}, headers=admin
    )
    assert answer.status_code == 413
    assert answer.json()["detail"].startswith("conf is 1,048,5")
    assert answer.json()["detail"].endswith("bytes, over the limit of 1,048,576 bytes (1 MiB)")
    result = run_cli("dags", "trigger", "api_example", "-c", '{"blob": "' + OVER + '"}')
    assert (
        result.exit_code != 0
        and "conf is 1,048,5" in result.stderr
        and "over the limit" in result.stderr
    )
    backfill = client.post(
        "/api/v2/backfills",
        headers=admin,
        json={
            "dag_id": "api_example",
            "from_date": "2024-01-01T00:00:00Z",
            "to_date": "2024-01-02T00:00:00Z",
            "dag_run_conf": {"blob": OVER},
        },
    )
    assert backfill.status_code == 413 and backfill.json()["detail"].startswith(
        "dag_run_conf is 1,048,5"
    )
    assert _count(engine, DagRun) == 0


@ON_SQLITE
def test_notes_over_airflows_limit(
    client: TestClient,
    admin: dict[str, str],
    engine: Engine,
    make_run: Callable[..., str],
    run_url: Callable[..., str],
) -> None:
    run_id = make_run(run_id="r1")
    long_note = "n" * 1001
    for method, url, body in [
        ("POST", "/api/v2/dags/api_example/dagRuns", {"dag_run_id": "r2", "note": long_note}),
        ("PATCH", run_url(run_id), {"note": long_note}),
        ("PATCH", run_url(run_id) + "/taskInstances/load", {"note": long_note}),
    ]:
        answer = client.request(method, url, json=body, headers=admin)
        assert answer.status_code == 422, (url, answer.text)
        [error] = answer.json()["detail"]
        assert error["loc"] == ["body", "note"] and "1000" in error["msg"], error
    with pytest.raises(
        ValueTooLarge, match="note is 1001 characters, over the limit of 1000 characters"
    ):
        db_engine.run_in_transaction(
            engine, lambda s: dag_runs.set_run_note(s, "api_example", run_id, long_note)
        )
    with pytest.raises(ValueTooLarge, match="note is 1001 characters"):
        db_engine.run_in_transaction(
            engine,
            lambda s: task_instances.set_notes(
                task_instances.of_task(s, "api_example", run_id, "load"), long_note
            ),
        )
    assert (
        client.patch(run_url(run_id), json={"note": "n" * 1000}, headers=admin).status_code == 200
    )


def test_xcom_value_over_its_cap() -> None:
    big = "x" * (xcom_codec.MAX_VALUE_BYTES + 1)
    with pytest.raises(
        xcom_codec.XComValueError,
        match=r"XCom value of key 'rows' is 16\.0 MiB as JSON, over the "
        r"limit of 16 MiB",
    ):
        InMemoryXComStore().set("d", "r", "t", -1, "rows", big)
    assert input_limits.XCOM_VALUE_BYTES == xcom_codec.MAX_VALUE_BYTES
    store = InMemoryXComStore()
    store.set("d", "r", "t", -1, "rows", ["y" * 1000] * 1000)
    assert len(store.get("d", "r", "t", -1, "rows")) == 1000
