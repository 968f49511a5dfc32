"""The DAG processor against a real metastore (SQLite and PostgreSQL): versions, import
errors, deactivation, re-import avoidance, ownership of DAG ids, and surviving DB trouble."""

from __future__ import annotations

import logging
import os
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.config import Settings
from tradewind.dag_processing.manager import DagProcessor
from tradewind.db import engine as db_engine

from .helpers import counting_source, dag_source, imports_counted, stored, write

MakeProcessor = Callable[..., DagProcessor]
HEADER = "from tradewind import DAG, EmptyOperator  # a DAG file\n"


def test_bad_files_become_import_errors_and_fixing_them_clears_the_errors(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
) -> None:
    bad = {
        "raises.py": ("raise ValueError('boom')\n", "ValueError: boom (raises.py, line 2)"),
        "syntax.py": ("def broken(:\n", "SyntaxError: invalid syntax (syntax.py, line 2)"),
        "cycle.py": (
            "with DAG('cyclic', schedule=None):\n"
            "    a, b = EmptyOperator(task_id='a'), EmptyOperator(task_id='b')\n    a >> b >> a\n",
            "cycle detected in DAG 'cyclic': a -> b -> a (cycle.py, line 2)",
        ),
        "exits.py": (
            "import sys\nsys.exit(3)\n",
            "the file called sys.exit(3) while being imported (exits.py, line 3)",
        ),
        "crashes.py": (
            "import os\nos.abort()\n",
            "killed by signal SIGABRT while importing the file (crashes.py, line 3)",
        ),
        "hangs.py": (
            "import time\ntime.sleep(100)\n",
            "Timeout: the file took longer than 1 s to import",
        ),
        "orphan.py": (
            "EmptyOperator(task_id='lonely')\n",
            "task 'lonely' was created outside any DAG (orphan.py, line 2)",
        ),
    }
    for name, (body, _) in bad.items():
        write(dags_folder / name, HEADER + body)
    write(dags_folder / "good.py", dag_source("good"))

    summary = make_processor(dag_processor__file_timeout=1.0).run_once()

    assert (summary.files_found, summary.files_parsed, summary.import_errors) == (8, 8, 7)
    state = stored(engine)
    assert state.active == {"good"} and state.dags["good"].versions == 1
    assert set(state.errors) == {str(dags_folder / name) for name in bad}
    for name, (_, message) in bad.items():
        assert message in state.error_of(dags_folder / name)

    for name in bad:
        write(dags_folder / name, dag_source(name.removesuffix(".py")))
    summary = make_processor().run_once()
    state = stored(engine)
    assert summary.import_errors == 0 and state.errors == {}
    assert state.active == {"good", *(name.removesuffix(".py") for name in bad)}


def test_editing_adds_one_version_touching_adds_none_and_imports_nothing(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
    tmp_path: Path,
) -> None:
    counter = tmp_path / "imports.txt"
    original = counting_source("counted", counter)
    path = write(dags_folder / "counted.py", original)
    processor = make_processor()

    assert processor.run_once().versions_added == 1
    assert imports_counted(counter) == 1 and stored(engine).dags["counted"].version == 1

    assert processor.run_once().files_parsed == 0  # nothing changed
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # touched: mtime only
    assert processor.run_once().files_parsed == 0
    assert imports_counted(counter) == 1 and stored(engine).dags["counted"].versions == 1

    write(path, counting_source("counted", counter, tasks=3))
    summary = processor.run_once()
    assert (summary.files_parsed, summary.versions_added) == (1, 1)
    assert imports_counted(counter) == 2
    assert (stored(engine).dags["counted"].version, stored(engine).dags["counted"].versions) == (
        2,
        2,
    )

    write(path, original)  # back to the first content: version 1 again, not a third version
    assert processor.run_once().versions_added == 0
    assert imports_counted(counter) == 3
    assert (stored(engine).dags["counted"].version, stored(engine).dags["counted"].versions) == (
        1,
        2,
    )

    # A comment changes the source only: that is a new version too (the code a run executes).
    write(path, original + "# a comment\n")
    assert processor.run_once().versions_added == 1 and stored(engine).dags["counted"].versions == 3

    # A new processor (a restart) starts from the metastore: nothing to import again.
    assert make_processor().run_once().files_parsed == 0
    assert imports_counted(counter) == 4
    # ``force`` (dags reserialize) imports everything once more but adds no version.
    assert make_processor().run_once(force=True).versions_added == 0
    assert imports_counted(counter) == 5


def test_breaking_a_file_keeps_its_dags_and_fixing_it_clears_the_error(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
) -> None:
    path = write(dags_folder / "etl.py", dag_source("etl", schedule="@daily"))
    processor = make_processor()
    processor.run_once()
    before = stored(engine).dags["etl"]

    source = dag_source("etl", schedule="@daily")
    line = len(source.splitlines()) + 1
    write(path, source + "raise RuntimeError('half-saved edit')\n")
    processor.run_once()
    state = stored(engine)
    assert state.dags["etl"].is_active and state.dags["etl"].has_import_errors
    assert state.dags["etl"].versions == 1
    assert f"RuntimeError: half-saved edit (etl.py, line {line})" in state.error_of(path)
    assert f'etl.py", line {line}' in state.error_of(path)

    write(path, dag_source("etl", schedule="@daily"))
    processor.run_once()
    state = stored(engine)
    assert state.errors == {}
    assert state.dags["etl"] == before


def test_an_invalid_dag_next_to_a_valid_one_keeps_its_stored_version(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
) -> None:
    two_dags = HEADER + textwrap.dedent("""\
        with DAG("valid", schedule=None):
            EmptyOperator(task_id="a")
        with DAG("second", schedule=None):
            x, y = EmptyOperator(task_id="x"), EmptyOperator(task_id="y")
            x >> y
        """)
    path = write(dags_folder / "two.py", two_dags)
    processor = make_processor()
    processor.run_once()
    assert stored(engine).active == {"valid", "second"}

    write(path, two_dags.replace("x >> y", "x >> y >> x"))
    processor.run_once()
    state = stored(engine)
    assert state.active == {"valid", "second"}
    assert state.dags["second"].has_import_errors and not state.dags["valid"].has_import_errors
    assert "cycle detected in DAG 'second': x -> y -> x (two.py, line 4)" in state.error_of(path)

    write(path, two_dags.split('with DAG("second"')[0])  # second removed from the file
    processor.run_once()
    state = stored(engine)
    assert state.active == {"valid"} and not state.dags["second"].is_active and state.errors == {}


def test_deleting_a_file_deactivates_its_dags_and_removes_its_error(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
) -> None:
    good = write(
        dags_folder / "sub" / "good.py",
        dag_source("first") + dag_source("second").split("\n\n", 2)[2],
    )
    bad = write(dags_folder / "bad.py", HEADER + "raise ValueError('x')\n")
    processor = make_processor()
    processor.run_once()
    assert stored(engine).active == {"first", "second"} and set(stored(engine).errors) == {str(bad)}

    good.unlink()
    bad.unlink()
    summary = processor.run_once()
    state = stored(engine)
    assert summary.deactivated == 2 and state.active == set() and state.errors == {}
    assert state.dags["first"].versions == 1  # history stays

    write(good, dag_source("first") + dag_source("second").split("\n\n", 2)[2])
    summary = processor.run_once()
    assert stored(engine).active == {"first", "second"} and summary.versions_added == 0


def test_ignoring_a_file_deactivates_its_dags(
    make_processor: MakeProcessor, engine: Engine, dags_folder: Path
) -> None:
    write(dags_folder / "team" / "drafts" / "draft.py", dag_source("draft"))
    write(dags_folder / "team" / "kept.py", dag_source("kept"))
    write(dags_folder / "helper.py", "def helper():\n    return 42\n")  # safe mode: not a DAG file
    processor = make_processor()
    assert processor.run_once().files_found == 2
    assert stored(engine).active == {"draft", "kept"}

    write(dags_folder / "team" / ".tradewindignore", "drafts/\n")
    processor.run_once()
    assert stored(engine).active == {"kept"}


def test_a_dag_id_in_two_files_stays_with_the_first_owner(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
) -> None:
    first = write(dags_folder / "b_first.py", dag_source("shared"))
    processor = make_processor()
    processor.run_once()

    second = write(
        dags_folder / "a_second.py", dag_source("shared", tasks=5)
    )  # sorts before the owner
    processor.run_once()
    state = stored(engine)
    assert state.dags["shared"].fileloc == str(first) and state.dags["shared"].versions == 1
    assert f"DAG id 'shared' is already defined in {first} (a_second.py, line 5)" in state.error_of(
        second
    )

    # The owner lets go of the id: the other file gets it (its error goes) within two scans.
    write(first, dag_source("renamed"))
    processor.run_once()
    processor.run_once()
    state = stored(engine)
    assert state.dags["shared"].fileloc == str(second) and state.dags["shared"].is_active
    assert state.errors == {} and state.active == {"shared", "renamed"}


def test_two_new_files_with_one_dag_id_first_path_wins(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
) -> None:
    one = write(dags_folder / "one.py", dag_source("same"))
    two = write(dags_folder / "two.py", dag_source("same"))
    make_processor().run_once()
    state = stored(engine)
    assert state.dags["same"].fileloc == str(one)
    assert list(state.errors) == [str(two)]


def test_a_dag_moved_to_another_file_in_one_scan(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
) -> None:
    old = write(dags_folder / "z_old.py", dag_source("moving"))
    processor = make_processor()
    processor.run_once()
    old.unlink()
    new = write(dags_folder / "a_new.py", dag_source("moving"))
    processor.run_once()
    state = stored(engine)
    assert state.dags["moving"].fileloc == str(new) and state.dags["moving"].is_active
    assert state.errors == {} and state.dags["moving"].versions == 2  # fileloc is part of the DAG


def test_new_dags_follow_paused_at_creation_and_get_their_next_run(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
) -> None:
    write(
        dags_folder / "daily.py", dag_source("daily", schedule="@daily", tags='["etl", "nightly"]')
    )
    make_processor(core__dags_are_paused_at_creation=False).run_once()

    def read(session: Session) -> tuple[Any, ...]:
        row = session.execute(
            text("SELECT is_paused, timetable_summary, next_dagrun FROM dag WHERE dag_id = 'daily'")
        ).one()
        tags = session.execute(text("SELECT name FROM dag_tag ORDER BY name")).scalars().all()
        return (*row, tags)

    is_paused, summary, next_dagrun, tags = db_engine.run_in_transaction(engine, read)
    assert (
        not is_paused
        and summary == "@daily"
        and next_dagrun is not None
        and tags == ["etl", "nightly"]
    )


def test_child_output_goes_to_the_dag_processor_logs(
    make_processor: MakeProcessor,
    settings: Settings,
    dags_folder: Path,
) -> None:
    write(
        dags_folder / "team" / "loud.py",
        dag_source(
            "loud", extra="import sys\nprint('hello out')\nprint('hello err', file=sys.stderr)"
        ),
    )
    make_processor().run_once()
    log = settings.home / "logs" / "dag_processor" / "team" / "loud.py.log"
    assert log.read_text().splitlines() == ["hello out", "hello err"]


class ScriptedStop(threading.Event):
    """A stop event for ``run_forever`` whose ``wait`` between scans runs the next step of the
    test, then stops the loop when the steps are done: the loop runs in this thread, no sleeps."""

    def __init__(self, *steps: Callable[[], None]) -> None:
        super().__init__()
        self.steps = list(steps)

    def wait(self, timeout: float | None = None) -> bool:
        if self.steps:
            self.steps.pop(0)()
        else:
            self.set()
        return self.is_set()


def test_the_processor_survives_a_database_hiccup(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    processor = make_processor()
    processor.run_once()
    with engine.begin() as conn:  # the table the scan writes to is gone for a while
        conn.execute(text("ALTER TABLE import_error RENAME TO import_error_away"))
    write(dags_folder / "good.py", dag_source("good"))
    write(dags_folder / "bad.py", HEADER + "raise ValueError('x')\n")

    def after_the_failed_scan() -> None:
        assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
            "DAG folder scan failed; trying again in 0.0 s"
        ]
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE import_error_away RENAME TO import_error"))

    caplog.set_level(logging.ERROR, logger="tradewind.dag_processor")
    processor.run_forever(ScriptedStop(after_the_failed_scan), interval=0.0)
    state = stored(engine)
    assert state.active == {"good"} and list(state.errors) == [str(dags_folder / "bad.py")]
