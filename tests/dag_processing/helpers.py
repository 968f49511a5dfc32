"""DAG file sources and a look at what the DAG processor stored, shared by these tests."""

from __future__ import annotations

import dataclasses
import os
import textwrap
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.db import engine as db_engine
from tradewind.db.models import Dag, DagVersion, ParseImportError


def dag_source(
    dag_id: str, *, tasks: int = 2, schedule: str | None = None, extra: str = "", tags: str = "[]"
) -> str:
    """A DAG file: ``tasks`` chained EmptyOperators; ``extra`` is code run at import."""
    header = (
        "from datetime import datetime, timezone\n\nfrom tradewind import DAG, EmptyOperator\n\n"
    )
    body = textwrap.dedent(f"""\
        with DAG({dag_id!r}, schedule={schedule!r},
                 start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
                 tags={tags}) as dag:
            previous = None
            for number in range({tasks}):
                task = EmptyOperator(task_id=f"t{{number}}")
                if previous is not None:
                    previous >> task
                previous = task
        """)
    return header + (extra.rstrip() + "\n\n" if extra else "") + body


def counting_source(dag_id: str, counter: Path, **kwargs: object) -> str:
    """A DAG file that appends a line to ``counter`` each time it is imported."""
    extra = f"with open({str(counter)!r}, 'a') as _counter:\n    _counter.write('imported\\n')"
    return dag_source(dag_id, extra=extra, **kwargs)  # type: ignore[arg-type]


def imports_counted(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def write(path: Path, text: str) -> Path:
    """Write ``text`` and move the mtime forward, so a rewrite within one clock tick is seen."""
    path.parent.mkdir(parents=True, exist_ok=True)
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    after = path.stat().st_mtime_ns
    if after <= before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))
    return path


@dataclasses.dataclass(frozen=True)
class StoredDag:
    is_active: bool
    has_import_errors: bool
    fileloc: str | None
    is_paused: bool
    version: int | None
    versions: int


@dataclasses.dataclass(frozen=True)
class Stored:
    dags: dict[str, StoredDag]
    errors: dict[str, str]

    @property
    def active(self) -> set[str]:
        return {dag_id for dag_id, dag in self.dags.items() if dag.is_active}

    def error_of(self, path: Path) -> str:
        return self.errors[str(path)]


def stored(engine: Engine) -> Stored:
    """Every DAG row (with its version count) and import error, read in a fresh transaction."""

    def read(session: Session) -> Stored:
        counts = dict(
            session.execute(
                select(DagVersion.dag_id, func.count()).group_by(DagVersion.dag_id)
            ).all()
        )
        numbers = dict(session.execute(select(DagVersion.id, DagVersion.version_number)).all())
        dags = {
            row.dag_id: StoredDag(
                row.is_active,
                row.has_import_errors,
                row.fileloc,
                row.is_paused,
                numbers.get(row.latest_version_id),
                counts.get(row.dag_id, 0),
            )
            for row in session.scalars(select(Dag))
        }
        errors = {
            row.filename: row.stacktrace or "" for row in session.scalars(select(ParseImportError))
        }
        return Stored(dags, errors)

    return db_engine.run_in_transaction(engine, read, readonly=True)
