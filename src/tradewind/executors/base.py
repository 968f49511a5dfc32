"""The executor contract: start tries (and DAG callbacks), report how tries end.

An executor does not touch task instance rows: it reports events, and the scheduler applies
them to the metastore in batched transactions. This keeps one writer on the hot path.

Every executor (and every fake of one in the tests) passes the same suite,
``tests/executors/contract``. What it checks, in the words of the methods below:

- a launched try reports ``TaskStarted`` once, then exactly one of ``TaskFinished`` (its
  ``TaskDone``) or ``TaskDied``; while it runs it is in ``running_ti_ids`` and takes a slot;
- its questions are answered by the request handler, from ``answer_requests``, never from
  ``wait``;
- ``terminate`` ends a try (SIGTERM: the try reports ``failed``, or dies), as does its
  ``execution_timeout``, passed by ``timeout_grace`` seconds, when its own alarm did not;
- a try whose process vanishes is reported ``TaskDied`` without delay (no heartbeat: the
  process's end is the signal);
- ``end`` stops every try and returns the events of their ends, and no try is left running;
- an executor that can adopt finds the tries of a dead predecessor (``orphans``), and an
  adopted try's end is reported like any other.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tradewind.runner.messages import TaskDone
from tradewind.runner.process_identity import ProcessIdentity
from tradewind.runner.workload import CallbackWorkload, TaskWorkload

#: Answers a task process's question (its wire fields: ``op`` ``xcom_get``, ``variable_get``,
#: ..., see ``runner.messages``) with the reply's fields, from the metastore.
RequestHandler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class TaskStarted:
    ti_id: int
    pid: int
    hostname: str
    at: datetime


@dataclasses.dataclass(frozen=True)
class TaskFinished:
    """The try ended and reported its outcome."""

    ti_id: int
    done: TaskDone

    @property
    def message(self) -> dict[str, Any]:
        """The outcome in its wire form, as ``scheduler.outcomes`` applies it."""
        return self.done.as_fields()


@dataclasses.dataclass(frozen=True)
class TaskDied:
    """The task process ended without reporting an outcome (killed, crashed, timed out)."""

    ti_id: int
    reason: str


Event = TaskStarted | TaskFinished | TaskDied


class BaseExecutor(abc.ABC):
    """Runs workloads; ``wait`` blocks until events arrive or a timeout passes."""

    parallelism: int
    #: The short name ``[core] executor`` gives it (recorded on the scheduler's job row, shown
    #: by the health route and the UI).
    kind: str = ""
    #: Tries run on other machines and outlive the scheduler: recovery gives the queued and
    #: running tries of a dead scheduler to ``adopt_remote`` instead of failing them.
    adopts_remote_tries: bool = False
    #: Workers heartbeat the tries themselves (through the execution API): the scheduler
    #: must not beat for them.
    heartbeats_remotely: bool = False

    @abc.abstractmethod
    def start(
        self,
        request_handler: RequestHandler,
        *,
        private_fds: Sequence[Any] = (),
        home: Path | None = None,
    ) -> None:
        """Get ready; ``request_handler`` answers task processes' questions.

        ``private_fds`` are file objects of the caller (a listening socket, say) that the
        processes the executor starts must not keep open. ``home``: the Tradewind home whose
        tries this executor runs; tries of a home outlive their executor and can be adopted
        by the next one (``orphans``, ``adopt``). Without it, nothing is adopted.
        """

    # -- tries that outlived their executor (an executor that cannot adopt finds none) -------
    def orphans(self) -> dict[tuple[int, int], ProcessIdentity]:
        """Tries of this executor's home, on this host, whose process runs but which no
        executor here supervises: (ti_id, try_number) -> the process."""
        return {}

    def adopt(
        self,
        ti_id: int,
        try_number: int,
        identity: ProcessIdentity,
        *,
        outcome_path: str | None,
        label: str,
        time_left: float | None = None,
    ) -> bool:
        """Supervise a try another executor started: from now on its end is reported like that
        of a try started here (its outcome read from ``outcome_path``), it counts as running
        and can be terminated. ``time_left``: seconds until its ``execution_timeout``. False
        when its process has ended meanwhile (then nothing changed)."""
        return False

    def adopt_remote(self, ti_id: int, try_number: int, *, started: bool) -> None:
        """Report from now on the end of a remote try another scheduler sent (only when
        ``adopts_remote_tries``); ``started``: its start was already recorded."""
        raise NotImplementedError(f"{type(self).__name__} runs no remote tries")

    def disown(self, identity: ProcessIdentity, reason: str) -> None:
        """Stop (SIGTERM) a try's process that nobody wants any more (found by ``orphans``).
        An executor that adopts nothing has nothing to stop."""
        return None

    def release(self, ti_id: int) -> None:
        """Stop supervising a try that another scheduler took over; it is not stopped, and its
        end is not reported here. An executor that adopts nothing has nothing to release."""
        return None

    @abc.abstractmethod
    def launch(self, workload: TaskWorkload) -> None:
        """Start one try now. The caller respects ``open_slots``. The try is reported
        ``TaskStarted`` by a later ``wait``, then its end: ``TaskFinished`` or ``TaskDied``,
        exactly once (none after ``release``)."""

    @abc.abstractmethod
    def launch_callback(self, workload: CallbackWorkload) -> None:
        """Run a DAG-level callback in its own process now. It does not use a slot and reports
        no event: its outcome goes to its log (and the scheduler's log); that it ended is
        told by ``take_ended_callbacks``."""

    def take_ended_callbacks(self) -> list[tuple[str, str]]:
        """(dag_id, run_id) of the DAG callbacks that ended since the last call (not those
        stopped by ``end``: they did not get to finish)."""
        return []

    @property
    def running_callback_runs(self) -> set[tuple[str, str]]:
        """(dag_id, run_id) of the DAG callbacks running now."""
        return set()

    @property
    @abc.abstractmethod
    def open_slots(self) -> int:
        """How many more tries may start now."""

    @property
    @abc.abstractmethod
    def running_ti_ids(self) -> set[int]:
        """Task instances whose tries this executor is running."""

    @property
    def reported_ti_ids(self) -> set[int]:
        """Those of ``running_ti_ids`` whose tries already reported their outcome (their
        processes are ending): their rows may say success already."""
        return set()

    @abc.abstractmethod
    def wait(self, timeout: float | None, extra_fds: list[Any]) -> tuple[list[Event], list[Any]]:
        """Block until a task event or one of ``extra_fds`` is readable, or ``timeout`` s pass.

        Returns the events and the extra fds that are readable. It only reads what the tries
        sent: their questions wait for ``answer_requests`` (it returns at once while some
        wait).
        """

    def answer_requests(self) -> int:
        """Answer the questions tries asked since the last call, with the request handler
        given to ``start`` (this is where lookups happen); how many there were. The caller
        calls it after each ``wait``."""
        return 0

    @abc.abstractmethod
    def terminate(self, ti_id: int) -> None:
        """Stop one running try (its process gets SIGTERM, then SIGKILL after a grace period);
        its end is reported by ``wait`` as for any try. Unknown ids are ignored."""

    @abc.abstractmethod
    def end(self, grace: float | None = None) -> list[Event]:
        """Stop every running try (and callback), SIGKILL after ``grace`` seconds (the executor's
        default when None), and return the events of their ending (every try still running
        gets one). Afterwards ``running_ti_ids`` is empty."""
