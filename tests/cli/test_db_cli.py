"""``tradewind db``, through click and through the real console script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from tradewind.cli.main import cli
from tradewind.db import engine as db_engine
from tradewind.db.revision import HEAD


def _env_for(db_url: str, home: Path) -> dict[str, str]:
    return {"TRADEWIND_HOME": str(home), "TRADEWIND__DATABASE__URL": db_url}


def test_migrate_then_check(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = _env_for(db_url, tmp_path)
    result = runner.invoke(cli, ["db", "check"], env=env)
    assert result.exit_code == 1
    assert "has no Tradewind tables: run `tradewind db migrate`" in result.stderr
    assert "Traceback" not in result.output

    result = runner.invoke(cli, ["db", "migrate"], env=env)
    assert result.exit_code == 0, result.output
    assert f"is at revision {HEAD} (latest)" in result.stdout
    assert runner.invoke(cli, ["db", "migrate"], env=env).exit_code == 0

    result = runner.invoke(cli, ["db", "check"], env=env)
    assert result.exit_code == 0, result.output
    assert f"reachable and at revision {HEAD}" in result.stdout


def test_check_does_not_create_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    result = CliRunner().invoke(cli, ["db", "check"], env=_env_for(f"sqlite:///{path}", tmp_path))
    assert result.exit_code == 1 and "run `tradewind db migrate`" in result.stderr
    assert not path.exists()


def test_check_unreachable_database(tmp_path: Path) -> None:
    env = _env_for("postgresql://u:secret@127.0.0.1:1/none", tmp_path)
    result = CliRunner().invoke(cli, ["db", "check"], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: cannot reach the database at postgresql+psycopg://u:***@127.0.0.1:1/none"
    )
    assert "secret" not in result.output and len(result.stderr.strip().splitlines()) == 1


def test_reset_needs_confirmation(tradewind_env: dict[str, str]) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["variables", "set", "keep", "1"], env=tradewind_env).exit_code == 0

    result = runner.invoke(cli, ["db", "reset"], env=tradewind_env, input="n\n")
    assert result.exit_code == 1
    assert "Aborted" in result.output
    assert runner.invoke(cli, ["variables", "get", "keep"], env=tradewind_env).stdout == "1\n"

    result = runner.invoke(cli, ["db", "reset", "--yes"], env=tradewind_env)
    assert result.exit_code == 0, result.output
    assert f"was reset to revision {HEAD}" in result.stdout
    assert runner.invoke(cli, ["variables", "get", "keep"], env=tradewind_env).exit_code == 1


def test_reset_confirmed_interactively(tradewind_env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["db", "reset"], env=tradewind_env, input="y\n")
    assert result.exit_code == 0, result.output


def test_downgrade_to_base(tradewind_env: dict[str, str]) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "downgrade", "-r", "base", "-y"], env=tradewind_env)
    assert result.exit_code == 0, result.output
    assert "is at revision base" in result.stdout
    assert runner.invoke(cli, ["db", "check"], env=tradewind_env).exit_code == 1
    assert runner.invoke(cli, ["db", "migrate"], env=tradewind_env).exit_code == 0


def test_existing_database_at_old_revision_is_not_upgraded_implicitly(
    tradewind_env: dict[str, str],
) -> None:
    """Only an empty database is migrated on the fly; anything else needs `db migrate`."""
    engine = db_engine.create_engine(tradewind_env["TRADEWIND__DATABASE__URL"])
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    engine.dispose()
    result = CliRunner().invoke(cli, ["variables", "list"], env=tradewind_env)
    assert result.exit_code == 1
    assert "revision old" in result.stderr
    assert CliRunner().invoke(cli, ["db", "reset", "-y"], env=tradewind_env).exit_code == 0


def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("tradewind")
    if script.exists():
        return [str(script)]
    found = shutil.which("tradewind")
    return [found] if found else [sys.executable, "-m", "tradewind.cli.main"]


@pytest.mark.slow
def test_real_console_script_on_a_fresh_home(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND")}
    env["TRADEWIND_HOME"] = str(tmp_path / "home")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_console_script(), *args], env=env, capture_output=True, text=True, timeout=60
        )

    # Not migrated yet: variables commands create the schema of an empty database themselves.
    assert run("variables", "set", "api_token", "t0k").returncode == 0
    got = run("variables", "get", "api_token")
    assert (got.returncode, got.stdout) == (0, "t0k\n")
    missing = run("variables", "get", "nope")
    assert missing.returncode == 1
    assert missing.stderr == "Error: Variable nope does not exist\n"
    check = run("db", "check")
    assert check.returncode == 0, check.stderr
    assert (tmp_path / "home" / "tradewind.db").exists()
    assert (tmp_path / "home" / "fernet.key").exists()
