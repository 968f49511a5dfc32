"""Every message that crosses a process boundary between a try and the scheduler, as values.

Three conversations, each with its own messages (``runner.message_codec`` turns them into
bytes and back, and checks the protocol version):

- **try <-> supervisor** (a task or callback process and the executor that watches it; JSON
  lines over a ``LineChannel``): the try asks (``XComGet`` ... ``TaskStates``), the supervisor
  answers each with a ``Reply``; the try ends with one ``TaskDone``, also written to its
  outcome file. A try that lost its scheduler says ``Resume`` on the home's supervisor socket
  and is answered ``Resumed`` (or a ``Reply`` with an error).
- **executor <-> warm launcher** (pickled frames over a ``SOCK_SEQPACKET`` pair,
  ``runner.launcher_process``): ``Launch``/``Reap`` one way; ``Ready``, ``LoadFailed``,
  ``Started``, ``LaunchFailed``, ``Exited`` the other.
- **executor <-> fork server** (the same framing, ``runner.fork_server``): ``Spawn`` one way;
  ``Ready``, ``Spawned``, ``SpawnFailed``, ``Exited`` the other.

Requests keep the names and fields of their wire form (``op`` and the fields listed in
``operators.supervisor_comms``), so ``as_fields`` is what a request handler reads.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, ClassVar

from tradewind.runner.workload import TaskWorkload


# -- try -> supervisor: questions ---------------------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    """A question of a try; answered by one ``Reply``. ``op`` names it on the wire."""

    op: ClassVar[str] = ""
    #: Asking again after the answer was lost may do it twice (see ``runner.parent_link``).
    repeatable: ClassVar[bool] = True

    def as_fields(self) -> dict[str, Any]:
        """The wire form: ``op`` and the fields (what a request handler is given)."""
        fields: dict[str, Any] = {"op": self.op}
        names: tuple[str, ...] = self.__slots__
        for name in names:
            fields[name] = getattr(self, name)
        return fields


@dataclasses.dataclass(frozen=True, slots=True)
class XComGet(Request):
    op: ClassVar[str] = "xcom_get"
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    key: str


@dataclasses.dataclass(frozen=True, slots=True)
class XComGetMapped(Request):
    op: ClassVar[str] = "xcom_get_mapped"
    dag_id: str
    run_id: str
    task_id: str
    key: str


@dataclasses.dataclass(frozen=True, slots=True)
class VariableGet(Request):
    op: ClassVar[str] = "variable_get"
    key: str


@dataclasses.dataclass(frozen=True, slots=True)
class ConnectionGet(Request):
    op: ClassVar[str] = "connection_get"
    conn_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class TriggerDagRun(Request):
    op: ClassVar[str] = "trigger_dag_run"
    repeatable: ClassVar[bool] = False
    dag_id: str
    run_id: str | None
    logical_date: str | None
    conf: dict[str, Any]
    reset_dag_run: bool
    fail_when_dag_is_paused: bool


@dataclasses.dataclass(frozen=True, slots=True)
class DagRunState(Request):
    op: ClassVar[str] = "dag_run_state"
    dag_id: str
    run_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class TaskStates(Request):
    op: ClassVar[str] = "task_states"
    dag_id: str
    logical_dates: list[str]
    task_ids: list[str] | None
    task_group_id: str | None


REQUESTS: dict[str, type[Request]] = {
    cls.op: cls
    for cls in (
        XComGet,
        XComGetMapped,
        VariableGet,
        ConnectionGet,
        TriggerDagRun,
        DagRunState,
        TaskStates,
    )
}


def request_from_fields(fields: dict[str, Any]) -> Request:
    """The request whose wire form is ``fields``; ``ValueError`` when it is none."""
    rest = dict(fields)
    op = rest.pop("op", None)
    cls = REQUESTS.get(op) if isinstance(op, str) else None
    if cls is None:
        raise ValueError(f"unknown request {op!r}")
    try:
        return cls(**rest)
    except TypeError as exc:
        raise ValueError(f"request {op!r} does not fit: {exc}") from None


# -- supervisor -> try: answers -----------------------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """The answer to one request: its fields as listed in ``operators.supervisor_comms``, or
    ``error`` (and maybe ``error_type``) when there is none."""

    fields: dict[str, Any]

    @property
    def error(self) -> str | None:
        error = self.fields.get("error")
        return None if error is None else str(error)

    @property
    def error_type(self) -> str | None:
        return self.fields.get("error_type")

    @classmethod
    def failure(cls, error: str, error_type: str | None = None) -> Reply:
        fields: dict[str, Any] = {"error": error}
        if error_type is not None:
            fields["error_type"] = error_type
        return cls(fields)


# -- the end of a try ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class TaskDone:
    """How a try ended, as its process reports it (over its channel and in its outcome file).

    ``xcoms``: ``[key, encoded value]`` pairs it pushed (``runner.xcom_codec``); dates are
    ISO 8601 strings, as they travel.
    """

    op: ClassVar[str] = "done"
    ti_id: int
    try_number: int
    state: str
    start_date: str
    end_date: str
    error: str | None = None
    reschedule_date: str | None = None
    skipped_task_ids: list[str] = dataclasses.field(default_factory=list)
    rendered_fields: dict[str, Any] = dataclasses.field(default_factory=dict)
    xcoms: list[list[Any]] = dataclasses.field(default_factory=list)

    @classmethod
    def of(cls, ti_id: int, try_number: int, outcome: Any, xcoms: list[list[Any]]) -> TaskDone:
        """The one way a try's end is made into a message: from its ``TryOutcome`` (or anything
        with its fields: ``state``, ``start_date``, ``end_date``, ``error``, ...)."""
        reschedule = getattr(outcome, "reschedule_date", None)
        return cls(
            ti_id=ti_id,
            try_number=try_number,
            state=str(getattr(outcome.state, "value", outcome.state)),
            start_date=outcome.start_date.isoformat(),
            end_date=outcome.end_date.isoformat(),
            error=outcome.error,
            reschedule_date=reschedule.isoformat() if reschedule is not None else None,
            skipped_task_ids=list(getattr(outcome, "skipped_task_ids", None) or []),
            rendered_fields=dict(getattr(outcome, "rendered_fields", None) or {}),
            xcoms=xcoms,
        )

    def as_fields(self) -> dict[str, Any]:
        """The wire form (what the scheduler applies: ``scheduler.outcomes``)."""
        return {
            "op": self.op,
            "ti_id": self.ti_id,
            "try_number": self.try_number,
            "state": self.state,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "error": self.error,
            "reschedule_date": self.reschedule_date,
            "skipped_task_ids": self.skipped_task_ids,
            "rendered_fields": self.rendered_fields,
            "xcoms": self.xcoms,
        }


# -- a try back after its scheduler died --------------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class Resume:
    """The hello of a try on its home's supervisor socket: which try it is, and the protocol
    version it speaks."""

    op: ClassVar[str] = "resume"
    ti_id: int
    try_number: int


@dataclasses.dataclass(frozen=True, slots=True)
class Resumed:
    """The supervisor took the try over (``pid``: the scheduler's process)."""

    op: ClassVar[str] = "resumed"
    pid: int


LineMessage = Request | Reply | TaskDone | Resume | Resumed


# -- executor <-> launcher and fork server ------------------------------------------------------
# (Without slots: a slotted frozen dataclass unpickles through Python code, twice as slow.)
@dataclasses.dataclass(frozen=True)
class Ready:
    """A launcher loaded its DAG version, or the fork server is warm: it takes requests."""


@dataclasses.dataclass(frozen=True)
class LoadFailed:
    """A launcher could not load its DAG version (or must not fork it); it exits."""

    reason: str


@dataclasses.dataclass(frozen=True)
class Launch:
    """Fork this try (its channel's end travels with the frame; ``source_code`` left out)."""

    workload: TaskWorkload


@dataclasses.dataclass(frozen=True)
class Started:
    ti_id: int
    pid: int
    at: datetime


@dataclasses.dataclass(frozen=True)
class LaunchFailed:
    ti_id: int
    reason: str


@dataclasses.dataclass(frozen=True)
class Exited:
    """A process the sender forked ended (``os.waitpid``-style status; None: unknown)."""

    pid: int
    status: int | None


@dataclasses.dataclass(frozen=True)
class Reap:
    """The executor settled that exit: the launcher may reap the process now."""

    pid: int


@dataclasses.dataclass(frozen=True)
class Spawn:
    """Fork a launcher (its control socket's end and a memfd of the source travel along)."""

    fileloc: str
    dag_id: str
    home_key: str | None


@dataclasses.dataclass(frozen=True)
class Spawned:
    """The launcher started (a pidfd of it travels along)."""

    pid: int


@dataclasses.dataclass(frozen=True)
class SpawnFailed:
    reason: str


PacketMessage = (
    Ready
    | LoadFailed
    | Launch
    | Started
    | LaunchFailed
    | Exited
    | Reap
    | Spawn
    | Spawned
    | SpawnFailed
)
