"""``tradewind users``: create, list, delete, reset-password, on both backends."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from tradewind.cli.main import cli
from tradewind.db import engine as db_engine
from tradewind.services import users


@pytest.fixture
def run(tradewind_env: dict[str, str]):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, list(args), env=tradewind_env, input=input)

    return invoke


def test_users_commands(run, engine) -> None:  # type: ignore[no-untyped-def]
    created = run(
        "users",
        "create",
        "--username",
        "ada",
        "--password",
        "pw1",
        "--role",
        "admin",
        "--email",
        "ada@example.com",
        "--firstname",
        "Ada",
        "--lastname",
        "Lovelace",
    )
    assert (created.exit_code, created.stdout) == (0, "User ada created with role Admin\n")
    prompted = run("users", "create", "-u", "bob", "-r", "Viewer", input="pw2\npw2\n")
    assert prompted.exit_code == 0, prompted.output
    rows = json.loads(run("users", "list", "-o", "json").stdout)
    assert [(r["username"], r["role"], r["email"], r["first_name"]) for r in rows] == [
        ("ada", "Admin", "ada@example.com", "Ada"),
        ("bob", "Viewer", None, None),
    ]
    assert "password" not in json.dumps(rows)

    def check(username: str, password: str) -> bool:
        return db_engine.run_in_transaction(
            engine,
            lambda s: users.verify_password(users.get_user(s, username).password_hash, password),
        )

    assert check("bob", "pw2")
    assert (
        run("users", "reset-password", "-u", "bob", "-p", "new").stdout
        == "Password of user bob reset\n"
    )
    assert check("bob", "new") and not check("bob", "pw2")
    generated = run("users", "reset-password", "-u", "bob", "--use-random-password")
    secret = generated.stdout.splitlines()[-1].removeprefix("Password: ")
    assert check("bob", secret)

    duplicate = run("users", "create", "-u", "ada", "-p", "x", "-r", "Op")
    assert (duplicate.exit_code, duplicate.stderr) == (1, "Error: user 'ada' already exists\n")
    bad_role = run("users", "create", "-u", "eve", "-p", "x", "-r", "Boss")
    assert bad_role.exit_code == 2 and "Boss" in bad_role.stderr
    bad_name = run("users", "create", "-u", "has space", "-p", "x", "-r", "Op")
    assert bad_name.exit_code == 1 and "invalid username" in bad_name.stderr
    both = run("users", "create", "-u", "eve", "-p", "x", "--use-random-password", "-r", "Op")
    assert both.exit_code == 1 and "either --password or --use-random-password" in both.stderr

    assert run("users", "delete", "--username", "bob").stdout == "User bob deleted\n"
    missing = run("users", "delete", "-u", "bob")
    assert (missing.exit_code, missing.stderr) == (1, "Error: user 'bob' does not exist\n")
    assert [r["username"] for r in json.loads(run("users", "list", "-o", "json").stdout)] == ["ada"]
    assert run("users", "list").stdout.splitlines()[0].split()[:5] == [
        "id",
        "|",
        "username",
        "|",
        "email",
    ]
