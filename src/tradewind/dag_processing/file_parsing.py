"""Import DAG files in child processes, several at a time, each with a time limit.

The child imports one file, serializes its DAGs and sends them back over a pipe, then exits.
A file that raises, hangs past the limit, calls ``sys.exit`` or kills the interpreter only
yields an ``ImportProblem``; the parent (which never imports user code) is unaffected.
Children are forked from the parent, which already has Tradewind imported, so each file
costs its own import time and not an interpreter start.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
import traceback
from collections.abc import Iterable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from tradewind import serialization
from tradewind.dag_processing.importer import ImportProblem, import_dag_file


@dataclasses.dataclass
class ParsedFile:
    """What one file yielded: serialized DAGs (``dag_id -> JSON text``) and problems."""

    path: Path
    dags: dict[str, str]
    problems: list[ImportProblem]
    duration: float = 0.0


def _child_main(path: str, conn: Connection, log_path: str | None) -> None:
    """Runs in the child: import, serialize, send, exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if log_path:
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    try:
        result = import_dag_file(Path(path))
        dags: dict[str, str] = {}
        problems = [dataclasses.asdict(p) for p in result.problems]
        for dag in result.dags:
            try:
                dags[dag.dag_id] = serialization.dumps(dag)
            except Exception as exc:  # a DAG the serializer cannot express is an import error
                problems.append(dataclasses.asdict(ImportProblem(
                    path, f"DAG {dag.dag_id!r} cannot be serialized: {type(exc).__name__}: {exc}",
                    traceback.format_exc(), dag.definition_line,
                )))
        conn.send({"dags": dags, "problems": problems})
    except BaseException as exc:  # last resort: never leave the parent without an answer
        conn.send({"dags": {}, "problems": [dataclasses.asdict(ImportProblem(
            path, f"{type(exc).__name__}: {exc}", traceback.format_exc()))]})
    finally:
        conn.close()
        os._exit(0)


@dataclasses.dataclass
class _Running:
    path: Path
    process: Any
    conn: Connection
    started: float


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "did not finish"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"the interpreter was killed by signal {name} while importing the file"
    return f"the interpreter exited with code {code} while importing the file"


def parse_files(
    paths: Iterable[Path],
    *,
    timeout: float,
    parallelism: int,
    log_folder: Path | None = None,
) -> list[ParsedFile]:
    """Parse every file, ``parallelism`` at a time; results in the order files finished."""
    context = multiprocessing.get_context("fork")
    pending = list(paths)
    pending.reverse()
    running: list[_Running] = []
    results: list[ParsedFile] = []
    parallelism = max(1, parallelism)
    while pending or running:
        while pending and len(running) < parallelism:
            path = pending.pop()
            receiver, sender = context.Pipe(duplex=False)
            log_path = str(log_folder / (path.name + ".log")) if log_folder else None
            process = context.Process(target=_child_main, args=(str(path), sender, log_path), daemon=True)
            process.start()
            sender.close()
            running.append(_Running(path, process, receiver, time.monotonic()))
        now = time.monotonic()
        wait_for = min(max(0.0, r.started + timeout - now) for r in running)
        ready = multiprocessing.connection.wait([r.conn for r in running], timeout=wait_for)
        now = time.monotonic()
        for item in list(running):
            if item.conn in ready:
                results.append(_collect(item, now))
                running.remove(item)
            elif now - item.started >= timeout:
                item.process.kill()
                item.process.join()
                item.conn.close()
                message = f"the file took longer than {timeout:g} s to import (timeout); it was stopped"
                results.append(ParsedFile(item.path, {}, [ImportProblem(str(item.path), message, message)], now - item.started))
                running.remove(item)
    return results


def _collect(item: _Running, now: float) -> ParsedFile:
    try:
        payload = item.conn.recv()
    except (EOFError, OSError):
        payload = None
    item.conn.close()
    item.process.join(timeout=5)
    if item.process.is_alive():
        item.process.kill()
        item.process.join()
    duration = now - item.started
    if payload is None:
        message = _describe_exit(item.process.exitcode)
        return ParsedFile(item.path, {}, [ImportProblem(str(item.path), message, message)], duration)
    problems = [ImportProblem(**p) for p in payload["problems"]]
    return ParsedFile(item.path, payload["dags"], problems, duration)
