"""What the commands users type most import, in a fresh interpreter: only what each one needs.

Their whole-process time is mostly imports (the figures are in ``python -m bench --only cli``);
these tests hold the structure that keeps it low: ``--help`` imports no command, and the
metastore commands import neither the web stack, nor Alembic, nor the machinery that imports
DAG files or runs tasks.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tradewind

PROBE = textwrap.dedent("""
    import gc, json, sys
    from tradewind.cli.main import cli
    code = 0
    try:
        cli(sys.argv[1:], prog_name="tradewind")
    except SystemExit as exc:
        code = exc.code
    result = {"code": code, "modules": sorted(sys.modules), "gc": gc.isenabled(),
              "frozen": gc.get_freeze_count()}
    print(json.dumps(result), file=sys.__stderr__)
""")

#: Never needed by a command that only reads or writes the metastore.
WEB_AND_MIGRATIONS = ("fastapi", "starlette", "pydantic", "uvicorn", "jinja2", "alembic")
#: Importing DAG files, running tasks, serving the API: other commands' machinery.
OTHER_COMMANDS_MACHINERY = (
    "tradewind.api",
    "tradewind.dag_processing",
    "tradewind.executors",
    "tradewind.decorators",
    "tradewind.operators.bash",
    "tradewind.operators.python",
    "tradewind.services.clearing",
    "tradewind.services.dag_test",
)

DAG_FILE = textwrap.dedent("""
    from datetime import datetime
    from tradewind import DAG, BashOperator

    with DAG("nightly", schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False):
        BashOperator(task_id="a", bash_command="true") >> BashOperator(
            task_id="b", bash_command="true"
        )
""")


def _env(home: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TRADEWIND__", "AIRFLOW__"))
    }
    env["TRADEWIND_HOME"] = str(home)
    env["TRADEWIND__CORE__DAGS_FOLDER"] = str(home / "dags")
    return env


def _loaded(env: dict[str, str], *args: str) -> set[str]:
    """The modules loaded once ``tradewind ARGS`` has run (it must succeed, and leave the
    garbage collector on: it is paused only while a command's modules are imported)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, env=env
    )
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["code"] in (0, None), done.stderr
    assert result["gc"] is True
    if args[0] != "--help":
        # What importing the command loaded is out of the collector's way (frozen).
        assert result["frozen"] > 0
    return set(result["modules"])


def _under(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


@pytest.fixture(scope="module")
def parsed_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A home whose SQLite metastore holds the parsed DAG ``nightly`` and its run ``r1``."""
    home = tmp_path_factory.mktemp("home")
    (home / "dags").mkdir()
    (home / "dags" / "nightly.py").write_text(DAG_FILE)
    env = _env(home)
    for args in (
        ["db", "migrate"],
        ["dags", "reserialize"],
        ["dags", "trigger", "nightly", "--run-id", "r1"],
    ):
        subprocess.run(
            [sys.executable, "-m", "tradewind.cli.main", *args],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    return env


def test_help_imports_click_and_the_registry_only(tmp_path: Path) -> None:
    loaded = _loaded(_env(tmp_path), "--help")
    assert sorted(m for m in loaded if m.startswith("tradewind")) == [
        "tradewind",
        "tradewind.cli",
        "tradewind.cli.main",
        "tradewind.cli.registry",
    ]
    assert not _under(loaded, ("sqlalchemy", "croniter", "fastjsonschema", *WEB_AND_MIGRATIONS))


def test_dags_list_imports_the_metastore_but_no_dag_code(parsed_home: dict[str, str]) -> None:
    loaded = _loaded(parsed_home, "dags", "list")
    assert "sqlalchemy" in loaded
    assert not _under(loaded, WEB_AND_MIGRATIONS + OTHER_COMMANDS_MACHINERY)
    # The rows are enough: no DAG is deserialized, so neither the SDK nor the timetables.
    assert not _under(loaded, ("tradewind.sdk.dag", "tradewind.serialization", "croniter"))


@pytest.mark.parametrize(
    "args",
    [
        ("dags", "trigger", "nightly"),
        ("tasks", "states-for-dag-run", "nightly", "r1"),
        ("dags", "state", "nightly", "r1"),
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_run_commands_import_no_web_stack_and_no_other_commands(
    parsed_home: dict[str, str], args: tuple[str, ...]
) -> None:
    loaded = _loaded(parsed_home, *args)
    assert not _under(loaded, WEB_AND_MIGRATIONS + OTHER_COMMANDS_MACHINERY)
    assert not _under(loaded, ("tradewind.cli.dag_testing", "tradewind.cli.task_testing"))


def test_states_for_dag_run_builds_no_dag(parsed_home: dict[str, str]) -> None:
    """The task order comes from the stored edges: no DAG is deserialized, so neither the SDK's
    DAG, the operators, nor the timetables and their libraries are imported."""
    loaded = _loaded(parsed_home, "tasks", "states-for-dag-run", "nightly", "r1")
    assert not _under(
        loaded,
        (
            "tradewind.sdk.dag",
            "tradewind.serialization",
            "tradewind.operators",
            "tradewind.timetables",
            "croniter",
            "fastjsonschema",
        ),
    )


def test_import_tradewind_loads_no_module_of_the_package() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, tradewind; print(json.dumps(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert [m for m in json.loads(done.stdout) if m.startswith("tradewind")] == ["tradewind"]


def test_every_exported_name_is_typed_where_it_is_loaded_from() -> None:
    """The package's three lists agree: ``__all__``, where each name is loaded from, and the
    imports type checkers read."""
    source = Path(tradewind.__file__).read_text(encoding="utf-8")
    typed: dict[str, str] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tradewind."):
            typed.update((alias.name, str(node.module)) for alias in node.names)
    assert typed == tradewind._HOMES
    assert sorted(tradewind._HOMES) == sorted(tradewind.__all__)
