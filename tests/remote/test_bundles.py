"""``remote.bundles``: deterministic archives, and extraction that trusts nothing it reads."""

from __future__ import annotations

import io
import stat
import threading
import zipfile
from pathlib import Path

import pytest

from tradewind.remote import bundles

FILES = {"dag.py": b"print('dag')\n", "pkg/__init__.py": b"", "pkg/q.sql": b"select 1\n"}


def test_the_same_files_give_the_same_bytes_in_any_order() -> None:
    first = bundles.build(FILES)
    second = bundles.build(dict(reversed(list(FILES.items()))))
    assert first == second
    assert bundles.build({**FILES, "pkg/q.sql": b"select 2\n"}) != first
    assert bundles.members(first) == FILES


def test_extract_checks_the_hash(tmp_path: Path) -> None:
    content = bundles.build(FILES)
    digest = bundles.content_hash(content)
    tampered = bundles.build({**FILES, "dag.py": b"import os\n"})
    with pytest.raises(bundles.BundleError, match="does not match its hash"):
        bundles.extract(tampered, digest, tmp_path)
    assert not (tmp_path / digest).exists()
    folder = bundles.extract(content, digest, tmp_path)
    assert (folder / "pkg" / "q.sql").read_bytes() == b"select 1\n"
    assert [p.name for p in tmp_path.iterdir()] == [digest]  # no temporary folder left


def _raw_zip(name: str, mode: int = stat.S_IFREG | 0o644) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name)
        info.external_attr = mode << 16
        archive.writestr(info, b"x")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("/etc/passwd", stat.S_IFREG | 0o644),
        ("../escape.py", stat.S_IFREG | 0o644),
        ("pkg/../../escape.py", stat.S_IFREG | 0o644),
        ("link.py", stat.S_IFLNK | 0o777),
    ],
)
def test_unsafe_members_are_refused(tmp_path: Path, name: str, mode: int) -> None:
    content = _raw_zip(name, mode)
    with pytest.raises(bundles.BundleError, match="unsafe file name|not a regular file"):
        bundles.extract(content, bundles.content_hash(content), tmp_path / "cache")
    assert not (tmp_path / "escape.py").exists()


def test_two_extractions_at_once_end_with_one_folder(tmp_path: Path) -> None:
    content = bundles.build(FILES)
    digest = bundles.content_hash(content)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(bundles.extract(content, digest, tmp_path)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [tmp_path / digest] * 4
    assert bundles.members(content) == {
        path.relative_to(tmp_path / digest).as_posix(): path.read_bytes()
        for path in sorted((tmp_path / digest).rglob("*"))
        if path.is_file()
    }
