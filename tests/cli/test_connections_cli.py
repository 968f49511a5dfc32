"""``tradewind connections`` through click, on both backends."""

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


def test_add_from_uri_and_get(run) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "connections",
        "add",
        "pg",
        "--conn-uri",
        "postgres://user:pw@db.example.com:5432/mydb?sslmode=require",
    )
    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == "Successfully added `conn_id`=pg : postgres://user:***@db.example.com:5432/mydb?sslmode=require\n"
    )

    shown = json.loads(run("connections", "get", "pg", "-o", "json").stdout)[0]
    assert shown["password"] == "***" and "pw" not in json.dumps(shown)
    assert (shown["conn_type"], shown["host"], shown["port"], shown["schema"], shown["login"]) == (
        "postgres",
        "db.example.com",
        5432,
        "mydb",
        "user",
    )
    assert shown["extra_dejson"] == {"sslmode": "require"}
    secret = json.loads(run("connections", "get", "pg", "-o", "json", "--show-secrets").stdout)[0]
    assert secret["password"] == "pw"
    assert secret["get_uri"] == "postgres://user:pw@db.example.com:5432/mydb?sslmode=require"
    assert "db.example.com" in run("connections", "get", "pg").stdout


def test_add_from_fields_and_json(run) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "connections",
        "add",
        "h",
        "--conn-type",
        "http",
        "--conn-host",
        "example.com",
        "--conn-port",
        "443",
        "--conn-login",
        "me",
        "--conn-password",
        "s3",
        "--conn-schema",
        "https",
        "--conn-extra",
        '{"timeout": 3}',
        "--conn-description",
        "web",
    )
    assert result.exit_code == 0, result.output
    result = run(
        "connections", "add", "j", "--conn-json", '{"conn_type": "aws", "extra": {"region": "eu"}}'
    )
    assert result.exit_code == 0, result.output
    h = json.loads(run("connections", "get", "h", "-o", "json", "--show-secrets").stdout)[0]
    assert (h["host"], h["port"], h["login"], h["password"], h["schema"], h["description"]) == (
        "example.com",
        443,
        "me",
        "s3",
        "https",
        "web",
    )
    assert h["extra_dejson"] == {"timeout": 3}
    j = json.loads(run("connections", "get", "j", "-o", "json").stdout)[0]
    assert (j["conn_type"], j["extra_dejson"]) == ("aws", {"region": "eu"})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--conn-uri", "http://h", "--conn-json", "{}"], "either --conn-uri or --conn-json"),
        (
            ["--conn-uri", "http://h", "--conn-host", "x"],
            "not compatible with --conn-uri: --conn-host",
        ),
        (
            ["--conn-json", '{"conn_type": "http"}', "--conn-port", "1"],
            "not compatible with --conn-json: --conn-port",
        ),
        ([], "give --conn-uri or --conn-json, or --conn-type"),
        (["--conn-type", "http", "--conn-port", "x"], "invalid port 'x'"),
        (["--conn-type", "http", "--conn-extra", "[1]"], "extra must be a JSON object"),
        (["--conn-uri", "nonsense"], "invalid connection URI"),
        (["--conn-json", "{bad"], "not valid JSON"),
    ],
)
def test_add_rejects_bad_arguments(run, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = run("connections", "add", "c", *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_duplicate_list_delete(run) -> None:  # type: ignore[no-untyped-def]
    assert run("connections", "list").stdout == "No data found\n"
    run("connections", "add", "b", "--conn-uri", "http://u:topsecret@h")
    run("connections", "add", "a", "--conn-type", "ftp")
    result = run("connections", "add", "a", "--conn-type", "ftp")
    assert result.exit_code == 1 and "A connection with conn_id a already exists" in result.stderr

    listed = run("connections", "list")
    assert "topsecret" not in listed.stdout and "password" not in listed.stdout
    rows = json.loads(run("connections", "list", "-o", "json").stdout)
    assert [r["conn_id"] for r in rows] == ["a", "b"]
    assert all("password" not in r and "extra" not in r for r in rows)
    assert [
        r["conn_id"]
        for r in json.loads(run("connections", "list", "--conn-id", "b", "-o", "json").stdout)
    ] == ["b"]

    result = run("connections", "delete", "a")
    assert result.stdout == "Successfully deleted connection with `conn_id`=a\n"
    result = run("connections", "delete", "a")
    assert result.exit_code == 1 and result.stderr == "Error: Connection a does not exist\n"
    assert run("connections", "get", "a").exit_code == 1
