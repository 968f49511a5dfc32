"""Imports point down the layers (ARCHITECTURE.md): a DAG file imports the SDK without the
metastore, a task process runs without the web server, and no layer needs one above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tradewind"

#: Rank of each part of ``tradewind`` (a package, or one module of it where the package spans
#: layers): a module may import parts of a lower rank, and anything within its own part.
RANKS = {
    "exceptions": 0,
    "config": 1,
    "timetables": 1,
    "wakeup": 1,
    # Per-try tokens: signed by schedulers, checked by API servers; imports only PyJWT.
    "remote.tokens": 1,
    "sdk": 2,
    "operators": 3,
    "sensors": 4,
    "decorators": 5,
    "__init__": 6,
    "compat": 6,
    # Loading a DAG file: what task processes use, below the metastore.
    "serialization": 7,
    "dag_processing.importer": 7,
    "db": 8,
    "dag_processing.source_loader": 8,
    "runner": 9,
    "executors": 10,
    "remote": 10,
    # A remote worker runs its tries with the local executor.
    "remote.try_host": 11,
    "remote.remote_try": 12,
    "remote.celery_worker": 13,
    # The celery executor sends the wire form of remote tries; the registry builds it.
    "executors.celery_executor": 11,
    "executors.registry": 11,
    "scheduler": 11,
    # Parsing the DAG folder into the metastore (keeps the next-run fields current).
    "dag_processing": 12,
    "services": 13,
    "api": 14,
    "cli": 15,
}


def _part(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 and f"{parts[1]}.{parts[2]}" in RANKS:
        return f"{parts[1]}.{parts[2]}"
    return parts[1] if len(parts) > 1 else "__init__"


def _is_module(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").exists()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported tradewind module) of every import in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.split(".")[0] == "tradewind"
        ):
            if (
                node.module == "tradewind"
            ):  # a module of the package, or a name its __init__ defines
                found.extend(
                    (
                        node.lineno,
                        f"tradewind.{alias.name}" if _is_module(alias.name) else "tradewind",
                    )
                    for alias in node.names
                )
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend(
                (node.lineno, alias.name)
                for alias in node.names
                if alias.name.split(".")[0] == "tradewind"
            )
    return found


def _upward_imports() -> list[str]:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        part = _part(module)
        if part not in RANKS:
            wrong.append(f"{module}: part {part!r} has no rank in this test")
            continue
        for line, imported in _imports(path):
            target = _part(imported)
            if target == part:
                continue
            if target not in RANKS:
                wrong.append(f"{module}:{line} imports {imported} (part {target!r} has no rank)")
            elif RANKS[target] >= RANKS[part]:
                wrong.append(
                    f"{module}:{line} imports {imported}: {target} (rank {RANKS[target]}) "
                    f"is not below {part} (rank {RANKS[part]})"
                )
    return wrong


def test_every_import_points_down_the_layers() -> None:
    assert _upward_imports() == []


def test_the_check_notices_an_upward_import(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "tradewind"
    (fake / "sdk").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "sdk" / "__init__.py").write_text("")
    (fake / "sdk" / "dag.py").write_text("def f():\n    from tradewind.db import models\n")
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    assert _upward_imports() == [
        "tradewind.sdk.dag:2 imports tradewind.db: db (rank 8) is not below sdk (rank 2)"
    ]


@pytest.mark.parametrize("part", sorted(RANKS))
def test_ranked_parts_exist(part: str) -> None:
    assert part == "__init__" or _is_module(part.replace(".", "/"))
