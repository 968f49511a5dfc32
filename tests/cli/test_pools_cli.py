"""``tradewind pools`` through click, on both backends."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from tradewind.cli.main import cli


@pytest.fixture
def run(tradewind_env: dict[str, str]):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), env=tradewind_env)

    return invoke


def test_pools_commands(run) -> None:  # type: ignore[no-untyped-def]
    rows = json.loads(run("pools", "list", "-o", "json").stdout)
    assert rows == [
        {
            "pool": "default_pool",
            "slots": 128,
            "description": "Default pool",
            "include_deferred": False,
        }
    ]

    result = run("pools", "set", "db", "4", "database connections")
    assert (result.exit_code, result.stdout) == (0, "Pool db created\n")
    run("pools", "set", "db", "6", "more", "--include-deferred")
    assert json.loads(run("pools", "get", "db", "-o", "json").stdout) == [
        {"pool": "db", "slots": 6, "description": "more", "include_deferred": True}
    ]
    table = run("pools", "get", "db").stdout.splitlines()
    assert table[0].split(" | ") == ["pool", "slots", "description", "include_deferred"]
    assert table[2].split() == ["db", "|", "6", "|", "more", "|", "True"]
    assert run("pools", "list", "-o", "plain").stdout.splitlines()[1].split()[0] == "db"

    assert run("pools", "delete", "db").stdout == "Pool db deleted\n"
    result = run("pools", "get", "db")
    assert (result.exit_code, result.stderr) == (1, "Error: Pool db does not exist\n")


def test_pools_errors(run) -> None:  # type: ignore[no-untyped-def]
    result = run("pools", "delete", "default_pool")
    assert (result.exit_code, result.stderr) == (1, "Error: default_pool cannot be deleted\n")
    result = run("pools", "set", "p", "lots", "x")
    assert result.exit_code == 1 and "invalid slots 'lots'" in result.stderr
    assert run("pools", "set", "p", "1").exit_code == 2  # DESCRIPTION is required, as in Airflow
    assert run("pools", "delete", "nope").exit_code == 1
