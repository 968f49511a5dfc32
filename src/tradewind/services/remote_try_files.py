"""What a remote try reads and writes besides its state: its log, and its DAG version's bundle.

A remote try's log is shipped in chunks, each written at its byte offset into the API
server's own log file of the try (``runner.log_paths``), so the log readers that follow a
local try (the REST logs route, ``tasks logs --follow``, the UI) follow a remote one too, and
a chunk sent again after a lost answer lands on the same bytes.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db.models import DagBundle, DagVersion
from tradewind.remote.tokens import TryClaims
from tradewind.runner.log_paths import try_log_path
from tradewind.services.remote_tries import RemoteTryError, TryConflict, load_try


class BundleNotFound(RemoteTryError):
    """The try's DAG version has no bundle stored."""


class LogGap(TryConflict):
    """A log chunk starts past the end of what is stored: a chunk before it is missing."""


@dataclasses.dataclass(frozen=True)
class Bundle:
    hash: str
    content: bytes


def require_current_try(session: Session, claims: TryClaims) -> None:
    """The token's try is the task instance's current one (in any state: a try's last log
    chunk may arrive after its end was applied); else ``TryConflict``."""
    ti = load_try(session, claims)
    if ti.try_number != claims.try_number:
        raise TryConflict(
            f"task instance {claims.describe()} is at try {ti.try_number} now, "
            f"not {claims.try_number}"
        )


def log_file(log_folder: Path, claims: TryClaims) -> Path:
    return try_log_path(
        log_folder,
        claims.dag_id,
        claims.run_id,
        claims.task_id,
        claims.map_index,
        claims.try_number,
    )


def write_log_chunk(log_folder: Path, claims: TryClaims, offset: int, data: bytes) -> int:
    """Write ``data`` at byte ``offset`` of the try's log; returns the bytes stored after it.

    An offset past the end is refused (``LogGap``, which says where to send from), so the file
    never holds a hole of zero bytes where a lost chunk should be.
    """
    if offset < 0:
        raise ValueError(f"offset must be 0 or more, not {offset}")
    path = log_file(log_folder, claims)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if offset > size:
            raise LogGap(
                f"log chunk of {claims.describe()} starts at byte {offset}, past the {size} "
                f"bytes stored: send the log from byte {size}"
            )
        if data:
            os.pwrite(fd, data, offset)
        return max(size, offset + len(data))
    finally:
        os.close(fd)


def bundle_of(session: Session, claims: TryClaims) -> Bundle:
    """The ``dag_bundle`` of the DAG version the try runs."""
    ti = load_try(session, claims)
    if ti.dag_version_id is None:
        raise BundleNotFound(f"task instance {claims.describe()} has no DAG version")
    version = session.get(DagVersion, ti.dag_version_id)
    if version is None or version.bundle_hash is None:
        raise BundleNotFound(
            f"DAG version {ti.dag_version_id} of {claims.dag_id} has no bundle: the DAG processor "
            "stores one with each version it parses; parse the DAG file again"
        )
    content = session.scalar(select(DagBundle.content).where(DagBundle.hash == version.bundle_hash))
    if content is None:
        raise BundleNotFound(
            f"bundle {version.bundle_hash} of DAG version {ti.dag_version_id} of {claims.dag_id} "
            "is not stored"
        )
    return Bundle(version.bundle_hash, content)
