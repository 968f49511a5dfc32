"""Which files of the DAG folder go into a DAG file's bundle (``remote.bundles``).

The DAG file, the modules its import loaded from under the DAG folder (packages'
``__init__.py`` included), and the other non-Python files in those modules' folders
(templates, SQL, JSON): not hidden files, not ``__pycache__``, not what an ignore file
excludes. A file over ``MAX_FILE_BYTES`` and files past ``MAX_BUNDLE_BYTES`` are left out with
a warning: the DAG still works from the DAG folder, only a worker without it would miss them.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from tradewind.dag_processing import discovery
from tradewind.remote import bundles

MAX_FILE_BYTES = 1024 * 1024
MAX_BUNDLE_BYTES = 16 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class BundleFiles:
    """A bundle's content and hash, and what was left out of it."""

    content: bytes
    hash: str
    names: tuple[str, ...]
    warnings: tuple[str, ...] = ()


def module_files(names: Iterable[str], root: Path) -> set[Path]:
    """The files of the modules ``names`` (of ``sys.modules``) that lie under ``root``."""
    prefix = str(root).rstrip("/") + "/"
    found: set[Path] = set()
    for name in names:
        module = sys.modules.get(name)
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str) and filename.startswith(prefix):
            found.add(Path(filename))
    return found


def _data_files(folder: Path, root: Path) -> list[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return []
    candidates = [
        Path(entry.path)
        for entry in entries
        if not entry.name.startswith(".")
        and not entry.name.endswith((".py", ".pyc"))
        and entry.is_file(follow_symlinks=False)
    ]
    if not candidates:
        return []
    return [path for path in candidates if not discovery.is_ignored(root, path)]


def collect(dag_file: Path, imported: set[Path], root: Path) -> BundleFiles:
    """The bundle of ``dag_file`` given the module files its import loaded under ``root``."""
    wanted = {dag_file, *imported}
    for folder in sorted({path.parent for path in wanted}):
        wanted.update(_data_files(folder, root))
    files: dict[str, bytes] = {}
    warnings: list[str] = []
    total = 0
    # The DAG file and modules first: past the bound, templates go before code.
    for path in sorted(wanted, key=lambda p: (p != dag_file, p.suffix != ".py", str(p))):
        name = path.relative_to(root).as_posix()
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                warnings.append(f"{name} left out of the DAG bundle: {size:,} bytes is over 1 MiB")
                continue
            if total + size > MAX_BUNDLE_BYTES:
                warnings.append(f"{name} left out of the DAG bundle: the bundle would pass 16 MiB")
                continue
            files[name] = path.read_bytes()
        except OSError as exc:
            warnings.append(f"{name} left out of the DAG bundle: {exc}")
            continue
        total += size
    content = bundles.build(files)
    return BundleFiles(
        content, bundles.content_hash(content), tuple(sorted(files)), tuple(warnings)
    )
