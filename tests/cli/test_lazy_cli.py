"""The lazy ``tradewind`` command: the registry tells the truth about every command, and a
command imports only what it needs (no Alembic to check the schema revision)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tradewind.cli import registry
from tradewind.cli.main import cli
from tradewind.db import migrate as db_migrate
from tradewind.db import revision

PROBE = textwrap.dedent("""
    import json, sys
    from tradewind.cli.main import cli
    try:
        cli(sys.argv[1:], prog_name="tradewind")
    except SystemExit:
        pass
    heavy = ("sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "tradewind.cli.clear",
             "tradewind.cli.db")
    print(json.dumps(sorted(name for name in heavy if name in sys.modules)), file=sys.__stderr__)
""")


def _loaded_after(*args: str, env: dict[str, str] | None = None) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60, env=env
    )
    return json.loads(done.stderr.strip().splitlines()[-1])


def test_the_registry_names_every_command_with_its_own_help() -> None:
    for name, entry in registry.COMMANDS.items():
        command = registry.load(name)
        assert command is not None and command.name == name
        assert entry.help == command.get_short_help_str(limit=1000), name


def test_the_registry_names_the_module_of_every_subcommand_other_modules_add() -> None:
    for name, entry in registry.COMMANDS.items():
        group = registry.load(name)  # with every module that adds to it
        if not isinstance(group, click.Group):
            assert not entry.extra
            continue
        for sub, command in group.commands.items():
            module = command.callback.__module__.rsplit(".", 1)[-1]  # type: ignore[union-attr]
            if module == entry.module:
                assert sub not in entry.extra, f"{name} {sub} is the group's own"
            else:
                assert entry.extra.get(sub) == module, f"{name} {sub} comes from cli/{module}.py"
        assert set(entry.extra) <= set(group.commands)


def test_help_lists_every_command_without_importing_them() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in registry.COMMANDS:
        assert f"  {name} " in result.output
    assert _loaded_after("--help") == []


def test_a_group_lists_the_subcommands_of_every_module() -> None:
    result = CliRunner().invoke(cli, ["dags", "--help"])
    assert result.exit_code == 0
    for sub in ("test", "trigger", "reserialize", "backfill", "clear"):
        assert f"  {sub} " in result.output


def test_unknown_commands_are_reported() -> None:
    assert "No such command 'nope'" in CliRunner().invoke(cli, ["nope"]).output
    assert "No such command 'nope'" in CliRunner().invoke(cli, ["dags", "nope"]).output


def test_dags_test_imports_no_metastore_api_or_other_command_module(tmp_path: Path) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "tiny.py").write_text(
        textwrap.dedent("""
        from tradewind import DAG, PythonOperator
        with DAG("tiny", schedule=None) as dag:
            PythonOperator(task_id="a", python_callable=lambda: 1)
    """)
    )
    env = {"PATH": "/usr/bin:/bin", "TRADEWIND_HOME": str(tmp_path)}
    loaded = _loaded_after(
        "dags", "test", "tiny", "--dags-folder", str(folder), "-o", "json", env=env
    )
    assert not {
        "sqlalchemy",
        "alembic",
        "fastapi",
        "starlette",
        "uvicorn",
        "tradewind.cli.clear",
        "tradewind.cli.db",
    } & set(loaded)


def test_the_schema_head_constant_is_alembics_head() -> None:
    assert db_migrate.alembic_head_revision() == revision.HEAD


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_revision_is_read_without_alembic(migrated_db_url: str) -> None:
    from tradewind.db import engine as db_engine

    engine = db_engine.create_engine(migrated_db_url)
    try:
        status = db_migrate.status(engine)
    finally:
        engine.dispose()
    assert status.current == revision.HEAD and status.is_current and status.is_known
