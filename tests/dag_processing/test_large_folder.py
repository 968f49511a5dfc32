"""A DAG folder of 200 files (10 chained tasks each) with one bad file among them."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tradewind.dag_processing.manager import DagProcessor

from .helpers import dag_source, stored, write

FILES = 200
BAD = 57


def test_200_files_with_one_bad_file(
    make_processor: Callable[..., DagProcessor],
    engine: Engine,
    dags_folder: Path,
    backend: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for number in range(FILES):
        path = dags_folder / f"dag_{number:03}.py"
        if number == BAD:
            write(path, "from tradewind import DAG\nraise RuntimeError('the one bad file')\n")
        else:
            write(path, dag_source(f"dag_{number:03}", tasks=10, schedule="@daily"))

    started = time.perf_counter()
    cold = make_processor().run_once()
    cold_seconds = time.perf_counter() - started
    processor = make_processor()
    started = time.perf_counter()
    warm = processor.run_once()  # a new processor: starts from the metastore
    restart_seconds = time.perf_counter() - started
    started = time.perf_counter()
    again = processor.run_once()
    again_seconds = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\n[{backend}] {FILES} files x 10 tasks: cold parse+store {cold_seconds:.2f} s; "
            f"after a restart {restart_seconds:.3f} s ({warm.files_parsed} file re-imported); "
            f"unchanged re-scan {again_seconds:.3f} s"
        )

    assert (
        cold.files_found,
        cold.files_parsed,
        cold.dags_seen,
        cold.versions_added,
        cold.import_errors,
    ) == (FILES, FILES, FILES - 1, FILES - 1, 1)
    state = stored(engine)
    assert len(state.active) == FILES - 1 and f"dag_{BAD:03}" not in state.dags
    assert list(state.errors) == [str(dags_folder / f"dag_{BAD:03}.py")]
    assert (
        "RuntimeError: the one bad file (dag_057.py, line 2)"
        in state.errors[str(dags_folder / "dag_057.py")]
    )
    # Only the file with the import error is imported again after a restart; nothing after that.
    assert (warm.files_parsed, warm.versions_added) == (1, 0)
    assert (again.files_parsed, again.versions_added) == (0, 0)
