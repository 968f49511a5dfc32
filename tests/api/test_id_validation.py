"""Ids are checked whole: an id with a trailing newline (which ``$`` lets through) or another
control character is refused with a clear error for every kind of id, through the REST API,
the CLI and DAG files, and never stored beside the id without it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tradewind import DAG, EmptyOperator, config
from tradewind.cli.main import cli
from tradewind.dag_processing.manager import DagProcessor
from tradewind.db.models import ConnectionRow, DagRun, SlotPool, User, Variable
from tradewind.exceptions import InvalidIdError

#: The behaviour is the same on both backends; one is enough.
ON_SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

BAD_SUFFIXES = ["\n", "\r\n", "\t", "\x00", "\x1b"]


@pytest.fixture
def run_cli(tradewind_env: dict[str, str]) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), env=tradewind_env)

    return invoke


def _stored(engine: Engine, column: object) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(column)).scalars())  # type: ignore[call-overload]


@ON_SQLITE
@pytest.mark.parametrize("suffix", BAD_SUFFIXES, ids=repr)
def test_rest_refuses_ids_with_control_characters(
    client: TestClient,
    admin: dict[str, str],
    engine: Engine,
    suffix: str,
) -> None:
    runs = "/api/v2/dags/api_example/dagRuns"
    assert client.post(runs, json={"dag_run_id": "r1"}, headers=admin).status_code == 200
    cases = [
        (runs, {"dag_run_id": "r1" + suffix}, "run_id"),
        ("/api/v2/variables", {"key": "k" + suffix, "value": "v"}, "variable key"),
        ("/api/v2/pools", {"name": "p" + suffix, "slots": 1}, "pool name"),
        ("/api/v2/connections", {"connection_id": "c" + suffix, "conn_type": "http"}, "conn_id"),
    ]
    for url, body, kind in cases:
        answer = client.post(url, json=body, headers=admin)
        assert answer.status_code == 400, (kind, answer.text)
        assert kind in answer.json()["detail"], answer.json()
    assert _stored(engine, DagRun.run_id) == ["r1"]
    assert _stored(engine, Variable.key) == []
    assert _stored(engine, SlotPool.pool) == ["default_pool"]
    assert _stored(engine, ConnectionRow.conn_id) == []
    # Renames too.
    assert (
        client.post("/api/v2/pools", json={"name": "p", "slots": 1}, headers=admin).status_code
        == 201
    )
    renamed = client.patch("/api/v2/pools/p", json={"pool": "p" + suffix}, headers=admin)
    assert renamed.status_code == 400 and "pool name" in renamed.json()["detail"]


@ON_SQLITE
def test_rest_lookups_of_ids_with_a_trailing_newline_find_nothing(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
) -> None:
    make_run(run_id="r1")
    assert client.get("/api/v2/dags/api_example%0A", headers=admin).status_code == 404
    assert client.get("/api/v2/dags/api_example/dagRuns/r1%0A", headers=admin).status_code == 404
    assert client.get("/api/v2/dags/api_example/tasks/load%0A", headers=admin).status_code == 404


@ON_SQLITE
@pytest.mark.parametrize("suffix", ["\n", "\x1b"], ids=repr)
def test_cli_refuses_ids_with_control_characters(
    run_cli: Callable[..., Result],
    client: TestClient,
    engine: Engine,
    suffix: str,
) -> None:
    assert run_cli("dags", "trigger", "api_example", "-r", "r1").exit_code == 0
    cases = [
        (("dags", "trigger", "api_example", "-r", "r1" + suffix), "run_id"),
        (("variables", "set", "k" + suffix, "v"), "variable key"),
        (("pools", "set", "p" + suffix, "1", "pool"), "pool name"),
        (("connections", "add", "c" + suffix, "--conn-type", "http"), "conn_id"),
        (("users", "create", "-u", "ada" + suffix, "-p", "pw", "-r", "viewer"), "username"),
    ]
    for args, kind in cases:
        result = run_cli(*args)
        assert result.exit_code != 0, (args, result.output)
        assert kind in result.stderr, (args, result.stderr)
    assert _stored(engine, DagRun.run_id) == ["r1"]
    assert _stored(engine, Variable.key) == []
    assert _stored(engine, SlotPool.pool) == ["default_pool"]
    assert _stored(engine, ConnectionRow.conn_id) == []
    assert "ada" + suffix not in _stored(engine, User.username)


@pytest.mark.parametrize("kind", ["dag_id", "task_id", "group_id"])
def test_sdk_refuses_ids_with_a_trailing_newline(kind: str) -> None:
    from tradewind import TaskGroup

    with (
        pytest.raises(InvalidIdError, match=kind),
        DAG("d\n" if kind == "dag_id" else "d", schedule=None),
    ):
        if kind == "group_id":
            TaskGroup("g\n")
        EmptyOperator(task_id="t\n" if kind == "task_id" else "t")


@ON_SQLITE
def test_dag_file_with_a_trailing_newline_id_is_an_import_error(
    client: TestClient,
    admin: dict[str, str],
    api_settings: config.Settings,
    engine: Engine,
) -> None:
    (api_settings.dags_folder / "newline_ids.py").write_text(
        "from datetime import datetime\n"
        "from tradewind import DAG, EmptyOperator\n"
        "with DAG('newline_dag\\n', schedule=None, start_date=datetime(2024, 1, 1)):\n"
        "    EmptyOperator(task_id='t')\n"
        "with DAG('newline_task', schedule=None, start_date=datetime(2024, 1, 1)):\n"
        "    EmptyOperator(task_id='t\\n')\n",
        encoding="utf-8",
    )
    DagProcessor(api_settings, engine).run_once()
    dag_ids = [dag["dag_id"] for dag in client.get("/api/v2/dags", headers=admin).json()["dags"]]
    assert not any(dag_id.startswith("newline_") for dag_id in dag_ids), dag_ids
    errors = client.get("/api/v2/importErrors", headers=admin).json()["import_errors"]
    found = [e["stack_trace"] for e in errors if e["filename"].endswith("newline_ids.py")]
    assert found and "is invalid" in found[0], errors


@ON_SQLITE
def test_ids_without_control_characters_still_work(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = client.post(
        "/api/v2/dags/api_example/dagRuns",
        json={"dag_run_id": "manual__2024-01-01T00:00:00+00:00"},
        headers=admin,
    )
    assert created.status_code == 200, created.text
    for url, body in [
        ("/api/v2/variables", {"key": "a.b-c_d:e f", "value": "v"}),
        ("/api/v2/pools", {"name": "pool one", "slots": 1}),
        ("/api/v2/connections", {"connection_id": "my-conn.1", "conn_type": "http"}),
    ]:
        assert client.post(url, json=body, headers=admin).status_code == 201, (url, body)
