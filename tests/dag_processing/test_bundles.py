"""DAG bundles stored by the DAG processor (SQLite and PostgreSQL), and a DAG loaded from an
extracted bundle in a process that has no DAG folder."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.dag_processing import bundle_files
from tradewind.dag_processing.manager import DagProcessor
from tradewind.db import engine as db_engine
from tradewind.db.models import DagBundle, DagVersion
from tradewind.remote import bundles

from .helpers import write

MakeProcessor = Callable[..., DagProcessor]

DAG_FILE = textwrap.dedent("""\
    from datetime import datetime, timezone
    from pathlib import Path

    from tradewind import DAG, PythonOperator
    from pipelines.helpers.queries import daily_query

    with DAG("reports", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
        PythonOperator(task_id="query", python_callable=daily_query)
    """)

HELPER = textwrap.dedent("""\
    from pathlib import Path

    QUERY = (Path(__file__).parent / "daily.sql").read_text()

    def daily_query():
        return QUERY
    """)


def _make_folder(folder: Path) -> None:
    write(folder / "reports.py", DAG_FILE)
    write(folder / "pipelines" / "__init__.py", "")
    write(folder / "pipelines" / "helpers" / "__init__.py", "")
    write(folder / "pipelines" / "helpers" / "queries.py", HELPER)
    write(folder / "pipelines" / "helpers" / "daily.sql", "select 1\n")
    write(folder / "pipelines" / "helpers" / ".hidden.sql", "secret\n")
    write(folder / "pipelines" / "helpers" / "unused.py", "raise RuntimeError\n")
    write(folder / "unrelated" / "other.sql", "select 2\n")


def _versions(engine: Engine) -> list[tuple[int, str | None]]:
    def read(session: Session) -> list[tuple[int, str | None]]:
        query = select(DagVersion.version_number, DagVersion.bundle_hash).where(
            DagVersion.dag_id == "reports"
        )
        return [(number, digest) for number, digest in session.execute(query)]

    return sorted(db_engine.run_in_transaction(engine, read, readonly=True))


def _bundle(engine: Engine, digest: str) -> bytes:
    def read(session: Session) -> bytes:
        row = session.get(DagBundle, digest)
        assert row is not None
        return row.content

    return db_engine.run_in_transaction(engine, read, readonly=True)


def _bundle_count(engine: Engine) -> int:
    return db_engine.run_in_transaction(
        engine, lambda s: s.scalar(select(func.count()).select_from(DagBundle)), readonly=True
    )


def test_bundle_holds_the_dag_file_its_modules_and_their_files(
    make_processor: MakeProcessor, engine: Engine, dags_folder: Path, tmp_path: Path
) -> None:
    _make_folder(dags_folder)
    processor = make_processor()
    processor.run_once()
    [(number, digest)] = _versions(engine)
    assert number == 1 and digest is not None
    content = _bundle(engine, digest)
    assert bundles.content_hash(content) == digest
    assert sorted(bundles.members(content)) == [
        "pipelines/__init__.py",
        "pipelines/helpers/__init__.py",
        "pipelines/helpers/daily.sql",
        "pipelines/helpers/queries.py",
        "reports.py",
    ]

    processor.run_once(force=True)  # same files: same bundle, no new row, no new version
    assert _versions(engine) == [(1, digest)]
    assert _bundle_count(engine) == 1

    write(dags_folder / "pipelines" / "helpers" / "queries.py", HELPER + "\n# changed\n")
    processor.run_once(force=True)
    versions = _versions(engine)
    assert [number for number, _ in versions] == [1, 2]
    assert versions[1][1] not in (None, digest)
    assert _bundle_count(engine) == 2


def test_a_dag_loads_from_an_extracted_bundle_without_the_dag_folder(
    make_processor: MakeProcessor, engine: Engine, dags_folder: Path, tmp_path: Path
) -> None:
    _make_folder(dags_folder)
    make_processor().run_once()
    [(_, digest)] = _versions(engine)
    assert digest is not None
    content = _bundle(engine, digest)
    cache = tmp_path / "cache"
    folder = bundles.extract(content, digest, cache)
    assert folder == cache / digest
    fileloc = bundles.local_fileloc(
        folder, bundles.relative_fileloc(str(dags_folder / "reports.py"), bundles.members(content))
    )
    script = textwrap.dedent(f"""\
        import sys
        from pathlib import Path
        from tradewind.dag_processing.source_loader import load_dag_from_source
        from tradewind.remote import bundles
        assert not any({str(dags_folder)!r} in entry for entry in sys.path)
        fileloc = Path({str(fileloc)!r})
        dag = load_dag_from_source(
            fileloc.read_text(), str(fileloc), "reports",
            sys_path=bundles.sys_path_for(Path({str(folder)!r}), fileloc),
        )
        print(dag.get_task("query").python_callable())
        """)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "select 1\n\n"
    # Extracted once: a second call reuses the folder without reading the content.
    assert bundles.extract(b"", digest, cache) == folder


def test_oversize_files_are_left_out_with_a_warning(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _make_folder(dags_folder)
    big = dags_folder / "pipelines" / "helpers" / "big.json"
    big.write_bytes(b"0" * (bundle_files.MAX_FILE_BYTES + 1))
    with caplog.at_level(logging.WARNING, logger="tradewind.dag_processor"):
        make_processor().run_once()
    [(_, digest)] = _versions(engine)
    assert digest is not None
    assert "pipelines/helpers/big.json" not in bundles.members(_bundle(engine, digest))
    assert "pipelines/helpers/daily.sql" in bundles.members(_bundle(engine, digest))
    assert any("big.json left out of the DAG bundle" in r.getMessage() for r in caplog.records)
