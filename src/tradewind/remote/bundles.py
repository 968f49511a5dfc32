"""DAG bundles: the files a DAG version imports within the DAG folder, as one zip archive.

The archive is deterministic (members in path order, one fixed timestamp, fixed permissions),
so the same files always give the same SHA-256 and versions with the same files share one
``dag_bundle`` row. A worker extracts a bundle once into ``<cache>/<hash>/`` and imports the
DAG from there, with that folder on ``sys.path`` as the DAG folder would be. Pure: no
database, no network.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from tradewind.exceptions import TradewindError

#: Every member's timestamp: zip cannot store earlier than 1980.
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class BundleError(TradewindError):
    """A DAG bundle cannot be used: wrong hash, unsafe member, not a zip archive."""


def content_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def check_member_name(name: str) -> str:
    """``name`` if it is a safe relative path inside a bundle, else ``BundleError``."""
    path = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or "\0" in name
        or path.is_absolute()
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        raise BundleError(f"unsafe file name in DAG bundle: {name!r}")
    return name


def build(files: Mapping[str, bytes]) -> bytes:
    """A zip of ``files`` (path relative to the DAG folder, POSIX ``/`` -> content): the same
    files give the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(check_member_name(name), date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.create_system = 3  # Unix, so the permissions above are read as such
            archive.writestr(info, files[name])
    return buffer.getvalue()


def members(content: bytes) -> dict[str, bytes]:
    """The files of a bundle, after checking every member is a safe regular file."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            infos = archive.infolist()
            for info in infos:
                check_member_name(info.filename)
                mode = info.external_attr >> 16
                if info.is_dir() or (mode and not stat.S_ISREG(mode)):
                    raise BundleError(
                        f"DAG bundle member {info.filename!r} is not a regular file "
                        "(a symbolic link or a folder)"
                    )
            return {info.filename: archive.read(info) for info in infos}
    except zipfile.BadZipFile as exc:
        raise BundleError(f"the DAG bundle is not a valid zip archive: {exc}") from exc


def extract(content: bytes, expected_hash: str, cache_dir: Path) -> Path:
    """Extract a bundle into ``cache_dir/<hash>/`` and return that folder.

    The hash is checked first; a folder already there is reused without reading ``content``
    again. Extraction goes to a temporary folder renamed into place, so two processes
    extracting the same bundle at once both end with one complete folder.
    """
    if not _is_hash(expected_hash):
        raise BundleError(f"not a SHA-256 hex digest: {expected_hash!r}")
    target = cache_dir / expected_hash
    if target.is_dir():
        return target
    actual = content_hash(content)
    if actual != expected_hash:
        raise BundleError(
            f"DAG bundle content does not match its hash: expected {expected_hash}, got {actual}"
        )
    files = members(content)
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{expected_hash[:12]}-", dir=cache_dir))
    try:
        for name, data in files.items():
            path = scratch.joinpath(*name.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        os.chmod(scratch, 0o755)
        try:
            os.rename(scratch, target)
        except OSError:
            if not target.is_dir():  # not another process's finished copy: a real failure
                raise
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(scratch)
    return target


def _is_hash(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def local_fileloc(folder: Path, relative_fileloc: str) -> Path:
    """Where the DAG file ``relative_fileloc`` (relative to the DAG folder) is in an
    extracted bundle ``folder``."""
    return folder.joinpath(*check_member_name(relative_fileloc).split("/"))


def relative_fileloc(fileloc: str, files: Mapping[str, bytes] | list[str]) -> str:
    """The member of a bundle that is the DAG file ``fileloc`` (an absolute path on the DAG
    processor's machine): the longest member name ``fileloc`` ends with."""
    posix = PurePosixPath(fileloc).as_posix()
    matches = [name for name in files if posix == name or posix.endswith("/" + name)]
    if not matches:
        raise BundleError(f"the DAG bundle does not hold the DAG file {fileloc}")
    return max(matches, key=len)


def sys_path_for(folder: Path, fileloc: Path) -> list[str]:
    """What goes first on ``sys.path`` to import from an extracted bundle as from the DAG
    folder: the DAG file's folder, then the bundle's root (the DAG folder's place)."""
    entries = [str(fileloc.parent), str(folder)]
    return list(dict.fromkeys(entries))
