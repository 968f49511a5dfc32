"""What a DAG file makes the processor store is bounded: a 1 MB dag_id or exception message
gives a short import error with a marker saying what was cut, derived display columns are
cut to what the metastore holds, and a file that still cannot be stored only fails itself.
On SQLite and PostgreSQL (whose VARCHAR limits SQLite does not enforce)."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.api.ui import models_dag_list
from tradewind.dag_processing import importer
from tradewind.dag_processing.manager import DagProcessor
from tradewind.db import engine as db_engine
from tradewind.db.models import Dag, ParseImportError
from tradewind.exceptions import InvalidIdError
from tradewind.sdk import timezone
from tradewind.sdk.dag import DAG
from tradewind.services import dags as dag_service

from .helpers import dag_source, stored, write

MakeProcessor = Callable[..., DagProcessor]
HEADER = "from tradewind import DAG, EmptyOperator  # a DAG file\n"
MEGABYTE = 1_000_000


def test_an_absurd_dag_id_is_refused_with_a_short_message() -> None:
    with pytest.raises(InvalidIdError) as raised:
        DAG("x" * MEGABYTE, schedule=None)
    message = str(raised.value)
    assert len(message) < 200, message
    assert message.startswith("dag_id of 1000000 characters is longer than the 250 allowed: 'xxxx")
    with pytest.raises(InvalidIdError) as raised:
        DAG(["y" * 100] * 10_000, schedule=None)  # type: ignore[arg-type]
    assert len(str(raised.value)) < 200 and str(raised.value).startswith(
        "dag_id must be a non-empty string, got ["
    )


def test_bounded_cuts_long_lines_and_long_texts_with_a_marker() -> None:
    assert importer.bounded("short\ntext") == "short\ntext"
    line = importer.bounded("a" * 5000, limit=10_000, line_limit=1000)
    assert len(line) <= 1000 and line.startswith("a" * 900) and line.endswith(" characters cut]")
    assert (
        len(line.split(" [")[0]) + int(line.rsplit(" ", 3)[1].replace(",", "")) == 5000
    )  # says how much it cut
    lines = "\n".join(f"line {number}" for number in range(10_000))
    text = importer.bounded(lines, limit=2000)
    assert len(text) <= 2000 and text.startswith("line 0\nline 1\n") and text.endswith("line 9999")
    assert "characters cut" in text


def test_a_1_mb_dag_id_gives_a_short_import_error(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
) -> None:
    huge = write(
        dags_folder / "huge.py",
        HEADER + f"with DAG({'x' * MEGABYTE!r}, schedule=None):\n    EmptyOperator(task_id='a')\n",
    )
    write(dags_folder / "good.py", dag_source("good"))
    summary = make_processor().run_once()
    state = stored(engine)
    assert state.active == {"good"}
    error = state.error_of(huge)
    assert len(error) <= importer.MAX_STORED_CHARS
    assert "dag_id of 1000000 characters is longer than the 250 allowed" in error
    assert "characters cut]" in error  # the traceback shows the line with the literal
    [(filename, first_line)] = summary.errors
    assert filename == str(huge) and len(first_line) < 300

    # What every DAG list page carries (the UI's and the CLI's) is as short.
    page = db_engine.run_in_transaction(
        engine, lambda session: models_dag_list.dag_list(session), readonly=True
    )
    assert [len(e.stacktrace) <= importer.MAX_STORED_CHARS for e in page.import_errors] == [True]
    errors = db_engine.run_in_transaction(engine, dag_service.list_import_errors, readonly=True)
    assert [e.stacktrace for e in errors] == [error]


def test_a_1_mb_exception_message_keeps_its_start_and_the_traceback_end(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
) -> None:
    path = write(
        dags_folder / "loud.py",
        HEADER
        + textwrap.dedent("""\
        def fail():
            raise ValueError("y" * 1_000_000)

        fail()
        """),
    )
    make_processor().run_once()
    error = stored(engine).error_of(path)
    assert len(error) <= importer.MAX_STORED_CHARS
    assert error.startswith("ValueError: yyyy")
    assert "characters cut]" in error
    assert (
        f'File "{path}", line 5, in <module>' in error
        and f'File "{path}", line 3, in fail' in error
    )


def test_owners_of_many_tasks_are_cut_to_the_column(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
) -> None:
    write(
        dags_folder / "owners.py",
        HEADER
        + textwrap.dedent("""\
        with DAG("many_owners", schedule=None):
            for number in range(400):
                EmptyOperator(task_id=f"t{number}", owner=f"owner_number_{number:04}")
        """),
    )
    write(dags_folder / "good.py", dag_source("good"))
    summary = make_processor().run_once()
    assert summary.import_errors == 0
    assert stored(engine).active == {"many_owners", "good"}

    def owners(session: Session) -> str:
        return session.scalar(select(Dag.owners).where(Dag.dag_id == "many_owners")) or ""

    value = db_engine.run_in_transaction(engine, owners, readonly=True)
    assert len(value) <= 2000 and value.startswith("owner_number_0000, owner_number_0001")
    assert "characters cut]" in value


def test_a_file_that_cannot_be_stored_does_not_block_the_others(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A path longer than the import_error table's filename column (1024) with an import error.
    deep = dags_folder
    for number in range(6):
        deep = deep / (f"{number}" * 200)
    bad = write(deep / "bad.py", HEADER + "raise ValueError('broken')\n")
    assert len(str(bad)) > 1024
    write(dags_folder / "good.py", dag_source("good"))
    caplog.set_level(logging.ERROR, logger="tradewind.dag_processor")
    processor = make_processor()
    processor.run_once()
    assert stored(engine).active == {"good"}
    summary = processor.run_once()  # and the next scan does not fail either
    assert summary.files_parsed == 0
    write(dags_folder / "later.py", dag_source("later"))
    processor.run_once()
    assert stored(engine).active == {"good", "later"}


def test_an_id_or_tag_changed_after_validation_fails_only_its_file(
    make_processor: MakeProcessor,
    engine: Engine,
    dags_folder: Path,
) -> None:
    renamed = write(
        dags_folder / "renamed.py",
        HEADER
        + textwrap.dedent("""\
        with DAG("short", schedule=None) as dag:
            EmptyOperator(task_id="a")
        dag.dag_id = "z" * 300
        """),
    )
    tagged = write(
        dags_folder / "tagged.py",
        HEADER
        + textwrap.dedent("""\
        with DAG("tagged", schedule=None, tags=["fine"]) as dag:
            EmptyOperator(task_id="a")
        dag.tags.append("t" * 300)
        """),
    )
    write(dags_folder / "good.py", dag_source("good"))
    make_processor().run_once()
    state = stored(engine)
    assert state.active == {"good"}
    assert "DAG id of 300 characters is longer than the 250 allowed: 'zzz" in state.error_of(
        renamed
    )
    assert state.error_of(tagged).startswith(
        "DAG 'tagged' cannot be stored: cannot read serialized DAG 'tagged': DagDefinitionError: "
        "DAG 'tagged': tags"
    )


def test_an_import_error_stored_before_the_bound_is_listed_cut(engine: Engine) -> None:
    def add(session: Session) -> None:
        session.add(
            ParseImportError(
                filename="/dags/old.py", stacktrace="z" * MEGABYTE, timestamp=timezone.utcnow()
            )
        )

    db_engine.run_in_transaction(engine, add)
    [error] = db_engine.run_in_transaction(engine, dag_service.list_import_errors, readonly=True)
    assert len(error.stacktrace) <= importer.MAX_LINE_CHARS and error.stacktrace.startswith("zzz")
    page = db_engine.run_in_transaction(
        engine, lambda session: models_dag_list.dag_list(session), readonly=True
    )
    assert [e.stacktrace for e in page.import_errors] == [error.stacktrace]


def test_the_dag_list_carries_the_first_import_errors_and_their_count(engine: Engine) -> None:
    def add(session: Session) -> None:
        for number in range(models_dag_list.MAX_LISTED_IMPORT_ERRORS + 7):
            session.add(
                ParseImportError(
                    filename=f"/dags/broken_{number:03}.py",
                    stacktrace="ValueError: x",
                    timestamp=timezone.utcnow(),
                )
            )

    db_engine.run_in_transaction(engine, add)
    page = db_engine.run_in_transaction(
        engine, lambda session: models_dag_list.dag_list(session), readonly=True
    )
    assert page.import_error_count == models_dag_list.MAX_LISTED_IMPORT_ERRORS + 7
    assert [e.filename for e in page.import_errors] == [
        f"/dags/broken_{number:03}.py" for number in range(models_dag_list.MAX_LISTED_IMPORT_ERRORS)
    ]
