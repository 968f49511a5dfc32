"""A DAG deleted from the metastore while its file stays in the folder comes back at the next
scan, as a new DAG (version 1, no runs), as in Airflow: the file, not the metastore, is the
source of truth. The file is unchanged, so the processor's unchanged-file cache must not hide it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.dag_processing.manager import DagProcessor
from tradewind.db import engine as db_engine
from tradewind.db.models import DagRun
from tradewind.sdk import timezone
from tradewind.services import dag_metadata, dag_runs

from .helpers import counting_source, dag_source, imports_counted, stored, write

MakeProcessor = Callable[..., DagProcessor]


def _trigger(engine: Engine, dag_id: str) -> None:
    db_engine.run_in_transaction(
        engine, lambda s: dag_runs.trigger(s, dag_id, now=timezone.utcnow())
    )


def _delete(engine: Engine, dag_id: str) -> None:
    db_engine.run_in_transaction(engine, lambda s: dag_metadata.delete_dag(s, dag_id))


def _runs(engine: Engine, dag_id: str) -> int:
    def count(session: Session) -> int:
        return (
            session.scalar(select(func.count()).select_from(DagRun).where(DagRun.dag_id == dag_id))
            or 0
        )

    return db_engine.run_in_transaction(engine, count, readonly=True)


def test_a_deleted_dag_is_stored_again_at_the_next_scan_as_a_new_dag(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
    tmp_path: Path,
) -> None:
    counter = tmp_path / "imports.txt"
    write(dags_folder / "kept.py", dag_source("kept"))
    write(dags_folder / "deleted.py", counting_source("deleted", counter))
    processor = make_processor()
    processor.run_once()
    write(
        dags_folder / "deleted.py", counting_source("deleted", counter, tasks=3)
    )  # a second version
    processor.run_once()
    assert stored(engine).dags["deleted"].versions == 2 and imports_counted(counter) == 2
    _trigger(engine, "deleted")
    assert _runs(engine, "deleted") == 1

    _delete(engine, "deleted")
    assert "deleted" not in stored(engine).dags
    summary = processor.run_once()  # the same processor: the file is unchanged since its last scan

    state = stored(engine)
    assert state.active == {"kept", "deleted"}
    assert (state.dags["deleted"].version, state.dags["deleted"].versions) == (1, 1)
    assert state.dags["deleted"].is_paused  # new again: paused at creation
    assert _runs(engine, "deleted") == 0  # the runs went with the DAG
    assert (summary.files_parsed, summary.versions_added) == (1, 1)  # only the deleted DAG's file
    assert imports_counted(counter) == 3

    summary = processor.run_once()  # and then it is unchanged again
    assert summary.files_parsed == 0 and imports_counted(counter) == 3


def test_a_new_processor_stores_a_dag_deleted_while_none_ran(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
) -> None:
    write(dags_folder / "one.py", dag_source("one") + dag_source("two").split("\n\n", 2)[2])
    make_processor().run_once()
    _delete(engine, "two")
    make_processor().run_once()
    state = stored(engine)
    assert (
        state.active == {"one", "two"}
        and state.dags["two"].versions == 1
        and state.dags["one"].versions == 1
    )


def test_deleting_one_dag_of_a_file_stores_only_that_one_again(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
) -> None:
    path = write(
        dags_folder / "pair.py", dag_source("first") + dag_source("second").split("\n\n", 2)[2]
    )
    processor = make_processor()
    processor.run_once()
    write(path, dag_source("first", tasks=3) + dag_source("second", tasks=3).split("\n\n", 2)[2])
    processor.run_once()
    _delete(engine, "second")
    summary = processor.run_once()
    state = stored(engine)
    assert state.active == {"first", "second"}
    assert state.dags["first"].versions == 2 and state.dags["second"].versions == 1
    assert summary.versions_added == 1
