"""``tradewind variables`` through click, on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet

from tradewind.cli.main import cli


@pytest.fixture
def run(tradewind_env: dict[str, str]):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, list(args), env=tradewind_env, input=input)

    return invoke


def test_set_get_delete(run) -> None:  # type: ignore[no-untyped-def]
    result = run("variables", "set", "bucket", "s3://x", "--description", "landing")
    assert (result.exit_code, result.stdout) == (0, "Variable bucket created\n")
    assert run("variables", "get", "bucket").stdout == "s3://x\n"
    assert run("variables", "delete", "bucket").stdout == "Variable bucket deleted\n"
    result = run("variables", "get", "bucket")
    assert result.exit_code == 1
    assert result.stderr == "Error: Variable bucket does not exist\n"
    assert run("variables", "delete", "bucket").exit_code == 1


def test_get_default(run) -> None:  # type: ignore[no-untyped-def]
    result = run("variables", "get", "nope", "--default", "fallback")
    assert (result.exit_code, result.stdout) == (0, "fallback\n")
    assert run("variables", "get", "nope", "-d", "").stdout == "\n"


def test_json_values(run) -> None:  # type: ignore[no-untyped-def]
    assert run("variables", "set", "cfg", '{"a": [1, 2]}', "--json").exit_code == 0
    result = run("variables", "get", "cfg", "--json")
    assert json.loads(result.stdout) == {"a": [1, 2]}
    result = run("variables", "set", "bad", "{nope", "--json")
    assert result.exit_code == 1 and "VALUE is not valid JSON" in result.stderr
    result = run("variables", "set", "text", "plain")
    result = run("variables", "get", "text", "--json")
    assert result.exit_code == 1 and "does not hold valid JSON" in result.stderr


def test_list_formats(run) -> None:  # type: ignore[no-untyped-def]
    assert run("variables", "list").stdout == "No data found\n"
    run("variables", "set", "b", "2", "--description", "bee")
    run("variables", "set", "a_password", "1")
    table = run("variables", "list").stdout.splitlines()
    assert table[0].split() == ["key", "|", "description", "|", "is_encrypted"]
    assert [line.split()[0] for line in table[2:]] == ["a_password", "b"]
    assert "1" not in run("variables", "list", "-o", "plain").stdout.replace("key", "")
    rows = json.loads(run("variables", "list", "-o", "json").stdout)
    assert rows == [
        {"key": "a_password", "description": None, "is_encrypted": True},
        {"key": "b", "description": "bee", "is_encrypted": False},
    ]
    assert run("variables", "list", "-o", "yaml").exit_code == 2


def test_import_export(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"s": "text", "n": 3, "obj": {"k": [1]}, "api_key": "k3y"}))
    result = run("variables", "import", str(source))
    assert result.exit_code == 0, result.output
    assert result.stdout == "4 of 4 variables successfully updated.\n"
    assert run("variables", "get", "n").stdout == "3\n"

    target = tmp_path / "out.json"
    result = run("variables", "export", str(target))
    assert result.stdout == f"4 variables successfully exported to {target}\n"
    assert json.loads(target.read_text()) == {
        "s": "text",
        "n": 3,
        "obj": {"k": [1]},
        "api_key": "k3y",
    }
    assert json.loads(run("variables", "export", "-").stdout)["api_key"] == "k3y"

    source.write_text(json.dumps({"s": "changed", "new": 1}))
    result = run("variables", "import", str(source), "--action-on-existing-key", "skip")
    assert (
        "1 of 2 variables successfully updated." in result.stdout and "skipped: s" in result.stdout
    )
    result = run("variables", "import", str(source), "-a", "fail")
    assert result.exit_code == 1 and "Variables already exist: new, s" in result.stderr


def test_import_errors(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    result = run("variables", "import", str(bad))
    assert result.exit_code == 1 and "must hold a JSON object" in result.stderr
    result = run("variables", "import", str(tmp_path / "missing.json"))
    assert result.exit_code == 2 and "No such file or directory" in result.stderr
    result = run("variables", "import", "-", input='{"from_stdin": 1}')
    assert result.exit_code == 0 and run("variables", "get", "from_stdin").stdout == "1\n"


def test_wrong_fernet_key_is_one_clear_line(tradewind_env: dict[str, str]) -> None:
    runner = CliRunner()
    first = {**tradewind_env, "TRADEWIND__CORE__FERNET_KEY": Fernet.generate_key().decode()}
    assert runner.invoke(cli, ["variables", "set", "api_key", "k3y"], env=first).exit_code == 0
    other = {**tradewind_env, "TRADEWIND__CORE__FERNET_KEY": Fernet.generate_key().decode()}
    result = runner.invoke(cli, ["variables", "get", "api_key"], env=other)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: cannot decrypt variable 'api_key': it was encrypted with a Fernet key"
    )
    assert "k3y" not in result.output and len(result.stderr.splitlines()) == 1
