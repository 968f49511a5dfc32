"""Which files of the DAG folder are DAG files.

A ``.tradewindignore`` (or ``.airflowignore``) in any folder lists gitignore-style patterns,
relative to that folder, of paths to leave out. In safe mode a ``.py`` file is only read as a
DAG file when it mentions both "dag" and "tradewind" (or "airflow"), as Airflow does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pathspec

IGNORE_FILES = (".tradewindignore", ".airflowignore")


def might_contain_dag(path: Path, *, safe_mode: bool = True) -> bool:
    """The safe-mode heuristic: a cheap look at the bytes, no import."""
    if not safe_mode:
        return True
    try:
        content = path.read_bytes().lower()
    except OSError:
        return False
    return b"dag" in content and (b"tradewind" in content or b"airflow" in content)


def _load_ignore(directory: Path) -> pathspec.GitIgnoreSpec | None:
    lines: list[str] = []
    for name in IGNORE_FILES:
        candidate = directory / name
        if candidate.is_file():
            lines.extend(candidate.read_text(encoding="utf-8", errors="replace").splitlines())
    if not lines:
        return None
    # Imported here: pathspec costs 20 ms, and most DAG folders have no ignore file (every
    # ``dags test`` and ``tasks test`` pays for the imports of this module).
    import pathspec

    # GitIgnoreSpec (pathspec >= 0.10): the "gitwildmatch" factory is deprecated in pathspec 1.x.
    return pathspec.GitIgnoreSpec.from_lines(lines)


def iter_python_files(folder: Path) -> Iterator[Path]:
    """Every ``.py`` file under ``folder`` not excluded by an ignore file: each folder's files
    in name order, then its subfolders in name order.

    Symbolic links to folders are followed, each real folder once: a link back up the tree
    neither loops nor yields the same file under a second name.
    """
    specs: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
    visited: set[str] = set()
    for root, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in visited:
            dirnames[:] = []
            continue
        visited.add(real)
        directory = Path(root)
        spec = _load_ignore(directory)
        if spec is not None:
            specs.append((directory, spec))
        active = [(base, s) for base, s in specs if directory == base or base in directory.parents]
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and d != "__pycache__"
            and not _ignored(active, directory / d, is_dir=True)
        )
        for name in sorted(filenames):
            path = directory / name
            if name.endswith(".py") and not _ignored(active, path, is_dir=False):
                yield path


def _ignored(specs: list[tuple[Path, pathspec.GitIgnoreSpec]], path: Path, *, is_dir: bool) -> bool:
    """Whether one of the ignore files that apply to ``path``'s folder matches it."""
    for base, spec in specs:
        relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(relative):
            return True
    return False


def find_dag_files(folder: Path, *, safe_mode: bool = True) -> list[Path]:
    """The DAG files of a folder (or the file itself when ``folder`` is a file)."""
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        return []
    return [
        path for path in iter_python_files(folder) if might_contain_dag(path, safe_mode=safe_mode)
    ]


def is_ignored(root: Path, path: Path) -> bool:
    """Whether an ignore file of ``root`` or of a folder between it and ``path`` excludes it."""
    parts = path.parent.relative_to(root).parts
    specs: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
    for depth in range(len(parts) + 1):
        directory = root.joinpath(*parts[:depth])
        spec = _load_ignore(directory)
        if spec is not None:
            specs.append((directory, spec))
    return _ignored(specs, path, is_dir=False)
