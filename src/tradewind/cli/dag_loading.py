"""Commands that run a DAG in this process: load it from its file, and print what its tasks
log, masked as in a scheduled try's log (``dags test``, ``dags show``, ``tasks test``, ...)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from tradewind import config
from tradewind.cli.common import EXIT_LOAD_ERROR, fail
from tradewind.dag_processing import dag_bag, importer
from tradewind.runner.log_context import TaskLabelFilter
from tradewind.runner.masking import MaskingFilter, MaskingStream
from tradewind.sdk.dag import DAG


def load_dag_or_exit(dag_id: str, folder: Path) -> DAG:
    """The DAG, imported here from the one file that defines it (``dag_bag.load_dag``: the
    folder's other files are imported in child processes), or an error on stderr naming what
    went wrong and exit code 2."""
    if not folder.exists():
        fail(f"DAG folder {folder} does not exist", EXIT_LOAD_ERROR)
    settings = config.load()
    dag, bag = dag_bag.load_dag(
        folder,
        dag_id,
        timeout=float(settings.get("dag_processor", "file_timeout")),
        parallelism=int(settings.get("dag_processor", "parsing_processes")),
        defaults=importer.file_defaults_from(settings),
    )
    if dag is not None:
        return dag
    relevant = [
        p
        for p in bag.problems
        if dag_id in p.traceback or dag_id in p.message or _mentions(p.filename, dag_id)
    ]
    for problem in relevant or bag.problems:
        click.echo(f"Error in {problem.filename}: {importer.cut_line(problem.message)}", err=True)
        if problem.traceback and problem.traceback.strip() != problem.message:
            click.echo(importer.bounded(problem.traceback.rstrip()), err=True)
    fail(f"DAG {dag_id!r} not found in {folder} ({bag.files_read} DAG files read)", EXIT_LOAD_ERROR)
    raise AssertionError("unreachable")


def _mentions(filename: str, needle: str) -> bool:
    try:
        return needle in Path(filename).read_text(errors="replace")
    except OSError:
        return False


@contextlib.contextmanager
def task_logging(stream: Any) -> Iterator[logging.Handler]:
    """Print task and run logs to ``stream`` as they come, until the block ends.

    As in a scheduled try's log, the secrets the tasks read (or gave ``mask_secret``) are
    masked, in log records and in what tasks print. The handler is removed afterwards, so
    commands run in one process (tests, ``CliRunner``) do not keep writing to the streams of
    earlier commands.
    """
    handler = logging.StreamHandler(stream)
    handler.addFilter(TaskLabelFilter())
    handler.addFilter(MaskingFilter())
    handler.setFormatter(
        logging.Formatter("[%(asctime)s] {%(task_label)s} %(levelname)s - %(message)s")
    )
    root = logging.getLogger("tradewind")
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with (
            contextlib.redirect_stdout(MaskingStream(sys.stdout)),
            contextlib.redirect_stderr(MaskingStream(sys.stderr)),
        ):
            yield handler
    finally:
        handler.flush()
        root.removeHandler(handler)
        root.setLevel(previous_level)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what the block writes to stdout to stderr, so stdout carries only the result.

    When stdout and stderr are real file descriptors, fd 1 itself points at stderr for the
    duration, so the output of child processes a task starts cannot reach stdout either.
    """
    sys.stdout.flush()
    try:
        out_fd, err_fd = sys.stdout.fileno(), sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # in-memory streams have no descriptor
        out_fd = err_fd = -1
    saved = os.dup(out_fd) if out_fd >= 0 else -1
    if saved >= 0:
        os.dup2(err_fd, out_fd)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved >= 0:
            os.dup2(saved, out_fd)
            os.close(saved)
