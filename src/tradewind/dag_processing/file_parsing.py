"""Import DAG files in child processes, several at a time, each with a time limit.

The child imports one file, serializes its DAGs and sends them back over a pipe, then exits.
A file that raises, hangs past the limit, calls ``sys.exit`` or ``os._exit``, or kills the
interpreter only yields an ``ImportProblem``; the parent (which never imports user code) is
unaffected. Children are forked from the parent, which already has Tradewind imported, so
each file costs its own import time and not an interpreter start.

What a child prints (stdout and stderr) goes to ``<log_folder>/<path relative to the DAG
folder>.log``, replaced at each parse of the file. Time limit: ``SIGALRM`` raises
``DagFileTimeout`` in the child at ``timeout``, so the import error shows the line the file
was stuck on; a child that does not stop then is killed ``grace`` seconds later. An
interpreter crash (segfault, abort) is described from ``faulthandler``'s report in the log.

Processes a file starts while it is imported (a ``subprocess.Popen``, an ``os.fork``) do not
outlive its parse: each child leads its own process group, and the whole group is killed
once the child answered, at its time limit, when the parse is stopped, and when the parent
dies (the child gets ``SIGTERM`` then, and kills its group). What this cannot reach is a
process that leaves the group on purpose (a daemon that calls ``setsid``): a DAG file that
does so at import is beyond what a parse can clean up without containers or cgroups.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import faulthandler
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TextIO

import tradewind
from tradewind import serialization
from tradewind.dag_processing import bundle_files, crash_reports
from tradewind.dag_processing.importer import DagFileTimeout, ImportProblem, import_dag_file
from tradewind.runner import parent_death
from tradewind.sdk import definition_context
from tradewind.sdk.definition_context import DagFileDefaults

log = logging.getLogger("tradewind.dag_processor")


@dataclasses.dataclass
class ParsedFile:
    """What one file yielded: serialized DAGs (``dag_id -> JSON text``) and problems."""

    path: Path
    dags: dict[str, str]
    problems: list[ImportProblem]
    duration: float = 0.0
    #: The files the DAGs import within the DAG folder (when asked for with ``bundle_root``).
    bundle: bundle_files.BundleFiles | None = None


def log_path_for(log_folder: Path, path: Path, folder: Path | None = None) -> Path:
    """Where the output of importing ``path`` goes: mirrors its place in the DAG folder,
    so ``a/etl.py`` and ``b/etl.py`` do not share a log."""
    relative = Path(path.name)
    if folder is not None:
        with contextlib.suppress(ValueError):
            relative = path.relative_to(folder)
    return log_folder / (relative.as_posix() + ".log")


def grace_period(timeout: float) -> float:
    """Seconds a child gets after its time limit to report the timeout before it is killed."""
    return min(5.0, max(1.0, timeout * 0.1))


# -- the child ---------------------------------------------------------------------------------


def _raise_timeout(timeout: float) -> Any:
    def handler(signum: int, frame: Any) -> None:
        raise DagFileTimeout(timeout)

    return handler


def _redirect_output(log_path: str) -> None:
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # New stream objects on the redirected descriptors: the inherited ones may be a test
    # runner's in-memory capture, and their buffers hold the parent's unwritten output.
    sys.stdin = _text_stream(0, write=False)
    sys.stdout = _text_stream(1, write=True)
    sys.stderr = _text_stream(2, write=True)
    faulthandler.enable(file=2, all_threads=True)


def _text_stream(fd: int, *, write: bool) -> TextIO:
    """A stream on ``fd`` for the rest of the child's life: it never closes the descriptor."""
    if not write:
        return open(fd, encoding="utf-8", closefd=False)
    return open(fd, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)


def _flush_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def _problem_dict(
    path: str, message: str, formatted: str, line: int | None = None
) -> dict[str, Any]:
    return dataclasses.asdict(ImportProblem(path, message, formatted, line))


def _exit_problem(path: str, code: Any) -> dict[str, Any]:
    """The problem for a file that called ``os._exit``: where it did so."""
    real = Path(path).resolve()  # the name the file was compiled under
    frames = [f for f in traceback.extract_stack()[:-2] if not f.filename.startswith("<frozen")]
    in_file = [f for f in frames if Path(f.filename) == real]
    line = in_file[-1].lineno if in_file else None
    where = f" ({Path(path).name}, line {line})" if line else ""
    start = next((i for i, f in enumerate(frames) if Path(f.filename) == real), 0)
    formatted = "Traceback (most recent call last):\n" + "".join(
        traceback.format_list(frames[start:])
    )
    return _problem_dict(
        path, f"the file called os._exit({code!r}) while being imported{where}", formatted, line
    )


def _kill_own_group(signum: int, frame: Any) -> None:
    """The child's ``SIGTERM``: end the processes the file started with it (its group)."""
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _child_main(
    path: str,
    conn: Connection,
    log_path: str,
    timeout: float,
    sys_path: Sequence[str],
    parent: int,
    defaults: DagFileDefaults,
    bundle_root: str | None = None,
) -> None:
    """Runs in the child: import, serialize, bundle (with ``bundle_root``), send, exit."""
    real_exit = os._exit
    me = os.getpid()
    try:
        os.setpgid(0, 0)  # the parent does the same, whichever runs first
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, _kill_own_group)
        parent_death.die_with_parent(signal.SIGTERM, expected_parent=parent)
        _redirect_output(log_path)
        for entry in reversed([str(Path(path).parent), *sys_path]):
            if entry not in sys.path:
                sys.path.insert(0, entry)

        def exit_during_import(code: int) -> None:
            if os.getpid() != me:  # a process the file forked: not the file's own exit
                real_exit(code)
            conn.send({"dags": {}, "problems": [_exit_problem(path, code)]})
            _flush_output()
            real_exit(code)

        os._exit = exit_during_import  # type: ignore[assignment]  # restored after the import
        signal.signal(signal.SIGALRM, _raise_timeout(timeout))
        signal.setitimer(signal.ITIMER_REAL, timeout)
        modules_before = set(sys.modules)
        try:
            result = import_dag_file(Path(path), defaults)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            os._exit = real_exit
        dags: dict[str, str] = {}
        problems = [dataclasses.asdict(p) for p in result.problems]
        for dag in result.dags:
            try:
                dags[dag.dag_id] = serialization.dumps(dag)
            except Exception as exc:  # a DAG the serializer cannot express is an import error
                where = (
                    f" ({Path(path).name}, line {dag.definition_line})"
                    if dag.definition_line
                    else ""
                )
                problems.append(
                    dataclasses.asdict(
                        ImportProblem(
                            path,
                            f"DAG {dag.dag_id!r} cannot be serialized{where}: "
                            f"{type(exc).__name__}: {exc}",
                            traceback.format_exc(),
                            dag.definition_line,
                            dag.dag_id,
                        )
                    )
                )
        answer: dict[str, Any] = {"dags": dags, "problems": problems}
        if bundle_root is not None and dags:
            root = Path(bundle_root)
            loaded = set(sys.modules) - modules_before
            found = bundle_files.collect(
                Path(path).resolve(), bundle_files.module_files(loaded, root), root
            )
            answer["bundle"] = dataclasses.asdict(found)
        conn.send(answer)
    except BaseException as exc:  # last resort: never leave the parent without an answer
        if isinstance(exc, DagFileTimeout):
            message = f"Timeout: {exc}"
        else:
            message = f"{type(exc).__name__}: {exc}"
        # If even this fails, the parent reports a child without an answer.
        with contextlib.suppress(BaseException):
            conn.send(
                {"dags": {}, "problems": [_problem_dict(path, message, traceback.format_exc())]}
            )
    finally:
        _flush_output()
        real_exit(0)


# -- the parent --------------------------------------------------------------------------------

_warmed_up = False


def warm_up_dag() -> str:
    """Create, validate and serialize a DAG like a typical file's (see ``warm_up``)."""
    try:
        with tradewind.DAG(
            "tradewind_warm_up",
            schedule="@daily",
            tags=["warm-up"],
            start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        ) as dag:
            with tradewind.TaskGroup("group"):
                first = tradewind.EmptyOperator(task_id="empty")
            first >> tradewind.BashOperator(task_id="bash", bash_command="true")
            first >> tradewind.PythonOperator(task_id="python", python_callable=print)
        dag.validate()
        return serialization.dumps(dag)
    finally:
        definition_context.take_created_dags()
        definition_context.take_orphans()


def warm_up() -> None:
    """Pay once, in the parent, the first-use costs that every forked child would pay again.

    Creating the first DAG in a process imports croniter, inspects operator signatures and
    compiles regular expressions: ~20 ms, ten times the cost of importing a small DAG file.
    Children inherit the warmed-up state. Only Tradewind's own code runs here.
    """
    global _warmed_up
    if _warmed_up:
        return
    _warmed_up = True
    tradewind.load_authoring_api()
    parent_death.preload()
    try:
        warm_up_dag()
    except Exception:  # an optimisation only: children then simply do the work themselves
        log.warning("Warming up the DAG processor failed", exc_info=True)


@dataclasses.dataclass
class _Running:
    path: Path
    process: Any
    conn: Connection
    started: float
    log_path: Path
    #: Readable once the child ended. A pidfd where there are pidfds (Linux): the process's
    #: own ``sentinel`` is a pipe that processes the file forked hold open too.
    ended: Any

    def close(self) -> None:
        self.conn.close()
        if isinstance(self.ended, int):
            os.close(self.ended)


def _failed(
    item: _Running, message: str, formatted: str, line: int | None, duration: float
) -> ParsedFile:
    if line is not None:
        message = f"{message} ({item.path.name}, line {line})"
    formatted = formatted or message
    return ParsedFile(
        item.path, {}, [ImportProblem(str(item.path), message, formatted, line)], duration
    )


def _start(
    context: Any,
    path: Path,
    log_path: Path,
    timeout: float,
    sys_path: Sequence[str],
    defaults: DagFileDefaults,
    bundle_root: Path | None,
) -> _Running:
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child_main,
        args=(
            str(path),
            sender,
            str(log_path),
            timeout,
            list(sys_path),
            os.getpid(),
            defaults,
            str(bundle_root) if bundle_root is not None else None,
        ),
        daemon=True,
    )
    process.start()
    # The child does the same, whichever runs first: OSError when it already did (or exited).
    with contextlib.suppress(OSError):
        os.setpgid(process.pid, process.pid)
    sender.close()
    try:
        ended: Any = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        ended = process.sentinel
    return _Running(path, process, receiver, time.monotonic(), log_path, ended)


def _kill_group(item: _Running) -> None:
    """Kill the child and every process of its group (what the file started). The group's id
    is the child's pid, which the kernel gives no other process while the child or any
    member of its group exists."""
    # A child that ended and is not reaped yet keeps its own exit code.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(item.process.pid, signal.SIGKILL)
    if item.process.exitcode is None:  # not in its group (setpgid failed)
        item.process.kill()


def _collect(item: _Running, now: float, *, exited: bool) -> ParsedFile:
    """The child's answer. ``exited``: the child ended, maybe without answering (a process it
    forked can still hold the pipe open, so the pipe's end alone does not tell)."""
    if exited:  # what it sent is in the pipe already; its group cannot add to it once killed
        _kill_group(item)
    payload = None
    try:
        if not exited or item.conn.poll():
            payload = item.conn.recv()
    except (EOFError, OSError):
        payload = None
    if payload is None and not exited:  # the pipe closed: the child is ending, let it finish
        multiprocessing.connection.wait([item.ended], timeout=5)
    _kill_group(item)
    item.process.join()
    item.close()
    duration = now - item.started
    if payload is None:
        report, line = crash_reports.crash_report(item.log_path, item.path.resolve())
        message = crash_reports.describe_exit(item.process.exitcode)
        formatted = report or f"{message}; its output is in {item.log_path}"
        return _failed(item, message, formatted, line, duration)
    problems = [ImportProblem(**p) for p in payload["problems"]]
    bundle = payload.get("bundle")
    found = None
    if bundle is not None:
        found = bundle_files.BundleFiles(
            bundle["content"], bundle["hash"], tuple(bundle["names"]), tuple(bundle["warnings"])
        )
        for warning in found.warnings:
            log.warning("%s (for %s)", warning, item.path)
    return ParsedFile(item.path, payload["dags"], problems, duration, found)


def _kill(item: _Running) -> None:
    _kill_group(item)
    item.process.join()
    item.close()


def parse_files(
    paths: Iterable[Path],
    *,
    timeout: float,
    parallelism: int,
    log_folder: Path | None = None,
    folder: Path | None = None,
    sys_path: Sequence[str] = (),
    stop: threading.Event | None = None,
    defaults: DagFileDefaults | None = None,
    bundle_root: Path | None = None,
) -> list[ParsedFile]:
    """Parse every file, ``parallelism`` at a time; results in the order files finished.

    With ``bundle_root`` (the DAG folder), each file that yields DAGs also yields its bundle.

    ``folder`` is the DAG folder (log file names are relative to it). The file's own folder,
    then the ``sys_path`` entries, are put first on the children's ``sys.path``. When
    ``stop`` is set, running children are killed and the files finished so far are returned.
    DAGs take ``defaults`` for what their file leaves unset.
    """
    if log_folder is None:
        with tempfile.TemporaryDirectory(prefix="tradewind-parse-") as scratch:
            return parse_files(
                paths,
                timeout=timeout,
                parallelism=parallelism,
                log_folder=Path(scratch),
                folder=folder,
                sys_path=sys_path,
                stop=stop,
                defaults=defaults,
                bundle_root=bundle_root,
            )
    warm_up()
    defaults = defaults or DagFileDefaults()
    context = multiprocessing.get_context("fork")
    pending = list(paths)
    pending.reverse()
    running: list[_Running] = []
    results: list[ParsedFile] = []
    parallelism = max(1, parallelism)
    deadline_after = timeout + grace_period(timeout)
    try:
        while pending or running:
            if stop is not None and stop.is_set():
                break
            while pending and len(running) < parallelism:
                path = pending.pop()
                running.append(
                    _start(
                        context,
                        path,
                        log_path_for(log_folder, path, folder),
                        timeout,
                        sys_path,
                        defaults,
                        bundle_root,
                    )
                )
            now = time.monotonic()
            wait_for = min(max(0.0, r.started + deadline_after - now) for r in running)
            if stop is not None:
                wait_for = min(wait_for, 0.2)
            ready = set(
                multiprocessing.connection.wait(
                    [r.conn for r in running] + [r.ended for r in running], timeout=wait_for
                )
            )
            _collect_ready(running, ready, results, time.monotonic(), timeout, deadline_after)
    finally:  # stopped, or interrupted (Ctrl-C in a command): no child outlives the call
        for item in running:
            _kill(item)
    return results


def _collect_ready(
    running: list[_Running],
    ready: set[Any],
    results: list[ParsedFile],
    now: float,
    timeout: float,
    deadline_after: float,
) -> None:
    """Move the children that answered, ended or ran out of time from ``running`` to ``results``."""
    for item in list(running):
        if item.conn in ready or item.ended in ready:
            results.append(_collect(item, now, exited=item.conn not in ready))
            running.remove(item)
        elif now - item.started >= deadline_after:
            _kill(item)
            message = (
                f"Timeout: the file took longer than {timeout:g} s to import "
                "(TRADEWIND__DAG_PROCESSOR__FILE_TIMEOUT) and did not stop; it was killed"
            )
            results.append(_failed(item, message, "", None, now - item.started))
            running.remove(item)
