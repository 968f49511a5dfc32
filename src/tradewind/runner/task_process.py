"""The main function of a task process: run one try, report the outcome, exit.

The process is forked by an executor. It writes its log (stdout, stderr and logging) to the
try's log file, loads the pinned DAG version's source, and talks to its parent over a
``LineChannel`` for everything that lives in the metastore. Its final message is also written
to the workload's ``outcome_path`` first, so an outcome is not lost when the parent is killed
before it could record it.

The process does not die with its parent: a scheduler that crashes (or a fork server or warm
launcher that does) must not cost the try. Before anything else it holds its beacon
(``runner.beacons``), by which a restarted scheduler of the same home finds and adopts it;
questions asked while no scheduler runs wait for one (``runner.parent_link``).
"""

from __future__ import annotations

import collections.abc
import logging
import os
import signal
import sys
import traceback
from typing import Any, NoReturn

from tradewind.dag_processing.source_loader import load_dag_from_source
from tradewind.exceptions import TaskTerminated, TaskTimeout
from tradewind.operators import supervisor_comms
from tradewind.runner import (
    beacons,
    message_codec,
    orphan_watch,
    outcome_files,
    task_execution,
    xcom_codec,
)
from tradewind.runner.env_lookups import environment_connection, environment_variable
from tradewind.runner.masking import MaskingFilter, MaskingStream
from tradewind.runner.messages import (
    ConnectionGet,
    TaskDone,
    VariableGet,
    XComGet,
    XComGetMapped,
)
from tradewind.runner.parent_link import ParentLink, Resume
from tradewind.runner.protocol import LineChannel
from tradewind.runner.task_execution import TryOutcome
from tradewind.runner.workload import TaskWorkload
from tradewind.runner.xcom_store import MISSING, XComStore
from tradewind.sdk import states, timezone
from tradewind.sdk.connection import Connection
from tradewind.sdk.dag import DAG
from tradewind.sdk.states import TaskInstanceState as TIS

LOG_FORMAT = "[%(asctime)s] {%(filename)s:%(lineno)d} %(levelname)s - %(message)s"


class ParentXComStore(XComStore):
    """XComs read through the parent; pushes kept here and reported with the outcome."""

    def __init__(self, link: ParentLink | LineChannel, workload: TaskWorkload) -> None:
        self.link = link if isinstance(link, ParentLink) else ParentLink(link)
        self.workload = workload
        self.pushed: dict[str, str] = {}

    def set(
        self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str, value: Any
    ) -> None:
        self.pushed[key] = xcom_codec.encode(value, key=key)

    def _own(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> bool:
        w = self.workload
        return (dag_id, run_id, task_id, map_index) == (w.dag_id, w.run_id, w.task_id, w.map_index)

    def get(self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str) -> Any:
        if self._own(dag_id, run_id, task_id, map_index):
            return xcom_codec.decode(self.pushed[key]) if key in self.pushed else MISSING
        reply = self.link.ask_or_raise(XComGet(dag_id, run_id, task_id, map_index, key))
        return MISSING if reply.get("value") is None else xcom_codec.decode(reply["value"])

    def get_mapped(self, dag_id: str, run_id: str, task_id: str, key: str) -> list[Any]:
        reply = self.link.ask_or_raise(XComGetMapped(dag_id, run_id, task_id, key))
        return [xcom_codec.decode(value) for value in reply.get("values", [])]


def _on_sigterm(signum: int, frame: Any) -> None:
    raise TaskTerminated("the task process received SIGTERM")


class TaskLogHandler(logging.StreamHandler):
    """The try's log handler. Logging swallows whatever is raised while a record is written;
    a SIGTERM or an ``execution_timeout`` that arrives just then must still stop the task."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        raised = sys.exc_info()[1]
        if isinstance(raised, (TaskTerminated, TaskTimeout)):
            raise raised
        super().handleError(record)


def redirect_output(log_path: str) -> None:
    """Send stdout, stderr and logging of this process to ``log_path`` (appending), masked."""
    point_output_at(log_path)
    prepare_output()


def point_output_at(log_path: str) -> None:
    """Make file descriptors 1 and 2 write to ``log_path`` (appending)."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def prepare_output() -> None:
    """Masked ``sys.stdout``/``sys.stderr`` over file descriptors 1 and 2, and logging to them.

    A warm launcher does this once, before it forks tries; each try then only points the
    descriptors at its log (``point_output_at``).
    """
    sys.stdout = MaskingStream(
        open(1, "w", buffering=1, closefd=False, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
    )
    sys.stderr = MaskingStream(
        open(2, "w", buffering=1, closefd=False, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = TaskLogHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(MaskingFilter())
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("tradewind").setLevel(logging.INFO)
    for name in list(logging.Logger.manager.loggerDict):
        if name.startswith("tradewind"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True


def warm_up() -> None:
    """Fill, in a warm launcher, the caches each try would otherwise fill itself: a cache
    written in a forked process copies the memory page it lives on.

    A log record (the first one builds logging's and the clock's formatting state) goes to
    the launcher's own output, which goes nowhere; abstract base class checks of common
    types (``isinstance(x, Mapping)`` in every log record with one argument) are cached.
    """
    logging.getLogger("tradewind.task").info("warm launcher %d ready: %s", os.getpid(), None)
    values: tuple[object, ...] = (None, "", 0, 0.0, True, b"", [], (), {}, set(), frozenset())
    kinds: tuple[Any, ...] = (
        collections.abc.Mapping,
        collections.abc.Sequence,
        collections.abc.Set,
        collections.abc.Iterable,
        collections.abc.Callable,
    )
    for value in values:
        for abc in kinds:
            isinstance(value, abc)
    message_codec.frame_to_line(
        {"warm": [timezone.utcnow().isoformat(), TIS.SUCCESS.value, TIS("success")]}
    )
    _rehearse_try()
    sys.stdout.flush()
    sys.stderr.flush()


def _noop() -> None:
    return None


def _rehearse_try() -> None:
    """Run one no-op try of a throwaway DAG through the whole path a try takes (context,
    rendering, execution, outcome message), so the interpreter's specialised bytecode, type
    caches and lazily built state are in place before tries are forked."""
    from tradewind.operators.python import PythonOperator
    from tradewind.runner.runtime import RunInfo
    from tradewind.runner.xcom_store import InMemoryXComStore

    now = timezone.utcnow()
    with DAG("__tradewind_rehearsal__", schedule=None) as dag:
        PythonOperator(task_id="noop", python_callable=_noop)
    run = RunInfo(
        dag_id=dag.dag_id,
        run_id="rehearsal",
        logical_date=now,
        data_interval_start=now,
        data_interval_end=now,
        run_type="manual",
        conf={},
        start_date=now,
    )
    request = task_execution.TryRequest(
        task=dag.get_task("noop"), run=run, params=dag.params.resolve({})
    )
    store = InMemoryXComStore()
    try:
        outcome = task_execution.execute_try(request, store)
        message_codec.encode_line(TaskDone.of(0, 0, outcome, []))
    except Exception:  # a rehearsal only: a try reports its own problems
        logging.getLogger("tradewind.task").debug("rehearsal try failed", exc_info=True)


def lookups(link: ParentLink) -> tuple[Any, Any]:
    """Variable and connection lookups: the environment first, then the parent's metastore.

    (``context_builder.build_context`` registers the secrets they return with the masker.)
    """

    def variable(key: str) -> str | None:
        value = environment_variable(key)
        if value is None:
            reply = link.ask(VariableGet(key))
            if reply.error is not None:
                raise RuntimeError(reply.error)
            value = reply.fields.get("value")
        return value

    def connection(conn_id: str) -> Any:
        found = environment_connection(conn_id)
        if found is None:
            reply = link.ask(ConnectionGet(conn_id))
            if reply.error is not None:
                raise RuntimeError(reply.error)
            data = reply.fields.get("connection")
            found = Connection(**data) if data else None
        return found

    return variable, connection


def write_outcome(path: str | None, message: TaskDone | bytes) -> None:
    """Write the final message (or its encoded line) where a restarted scheduler can find it
    (atomically)."""
    outcome_files.write(
        path, message if isinstance(message, bytes) else message_codec.encode_line(message)
    )


#: This try's beacon, held until the process ends (the kernel then drops it).
_beacon: Any = None


def run(
    workload: TaskWorkload,
    channel: LineChannel,
    *,
    dag: DAG | None = None,
    output_prepared: bool = False,
    home_key: str | None = None,
) -> NoReturn:
    """Run the try and exit the process; never returns.

    ``dag``: the workload's DAG, already loaded from its source (by a warm launcher); loaded
    here when None. ``output_prepared``: ``prepare_output`` already ran in the process this
    one was forked from. ``home_key``: the key of the Tradewind home whose schedulers may
    adopt this try (``runner.beacons``); None: it cannot be adopted.
    """
    global _beacon
    code = 0
    link: ParentLink | None = None
    reported = False
    try:
        _beacon = beacons.hold(home_key, workload.ti_id, workload.try_number)
        signal.signal(signal.SIGTERM, _on_sigterm)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if output_prepared:
            point_output_at(workload.log_path)
        else:
            redirect_output(workload.log_path)
        resume = (
            Resume(home_key, workload.ti_id, workload.try_number)
            if _beacon is not None and home_key
            else None
        )
        link = ParentLink(channel, resume=resume)
        if home_key is None and workload.outcome_path is None:
            # Nothing could adopt this try nor read its end: it ends with its supervisor.
            orphan_watch.start(channel.fileno())
        supervisor_comms.install(message_codec.relay_sender(link.ask))
        store = ParentXComStore(link, workload)
        done = _execute(workload, store, link, dag)
        # The outcome is decided: a SIGTERM now has nothing left to stop, and must not cut its
        # report short (the process ends in a moment; a SIGKILL still would end it).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        reported = True
        data = message_codec.encode_line(done)  # once, for the file and the parent
        write_outcome(workload.outcome_path, data)
        link.send_final(data)
    except BaseException:  # the last line of defence: the parent must hear of the failure
        code = 1
        if not reported:  # (once it was decided, the outcome file tells the parent what it missed)
            try:
                traceback.print_exc()
                now = timezone.utcnow()
                state = states.after_failed_try(workload.try_number, workload.max_tries)
                failure = message_codec.encode_line(
                    _done(workload, TryOutcome(state, now, now, "the task process failed"))
                )
                write_outcome(workload.outcome_path, failure)
                (link.channel if link is not None else channel).send_encoded(failure)
            except BaseException:
                pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        os._exit(code)


def _done(
    workload: TaskWorkload, outcome: TryOutcome, xcoms: list[list[Any]] | None = None
) -> TaskDone:
    """The try's final message: made here only."""
    return TaskDone.of(workload.ti_id, workload.try_number, outcome, xcoms or [])


def _execute(
    workload: TaskWorkload, store: ParentXComStore, link: ParentLink, dag: DAG | None = None
) -> TaskDone:
    log = logging.getLogger("tradewind.task")
    log.info("Task %s started in process %d", workload.describe(), os.getpid())
    started = timezone.utcnow()
    try:
        if dag is None:
            dag = load_dag_from_source(workload.source_code, workload.fileloc, workload.dag_id)
        task = dag.get_task(workload.task_id)
        params = dag.params.resolve(workload.run.conf)
    except Exception as exc:
        log.exception("Could not load the task: %s", exc)
        state = states.after_failed_try(workload.try_number, workload.max_tries)
        now = timezone.utcnow()
        return _done(workload, TryOutcome(state, started, now, f"{type(exc).__name__}: {exc}"))
    variable, connection = lookups(link)
    request = task_execution.TryRequest(
        task=task,
        run=workload.run,
        params=params,
        map_index=workload.map_index,
        try_number=workload.try_number,
        max_tries=workload.max_tries,
        sensor_start_date=workload.sensor_start_date,
        poke_number=workload.poke_number,
    )
    outcome = task_execution.execute_try(
        request, store, variable_lookup=variable, connection_lookup=connection
    )
    xcoms = [[key, value] for key, value in store.pushed.items()]
    return _done(workload, outcome, xcoms)
