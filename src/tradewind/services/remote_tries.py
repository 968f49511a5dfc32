"""The life of a remote try as the execution API sees it: start, heartbeat, finish.

Each operation is one short transaction on the caller's session. A worker never decides a
state: start moves a queued try to running (the same transition the scheduler applies when a
local try starts, so a scheduler applying the start again finds nothing to do), heartbeat
keeps a running try alive, and finish only records the try's end as an ``execution_event``
for the scheduler to apply as it applies a local try's. Everything is refused (``TryConflict``)
once the task instance no longer runs the token's try: cleared, marked, failed after a lost
heartbeat, or already on a newer try. The executor that sent a try may also ask for it to stop
(a ``stop`` row, ``CeleryExecutor.terminate``): its start and heartbeats are refused then, so
its worker drops or terminates it, and its end is still recorded.

After a start or an end is recorded the scheduler is woken at once: on PostgreSQL by
``NOTIFY tradewind_execution_events`` inside the same transaction (delivered on commit, to
schedulers on any machine), on SQLite by the home's wake-up datagram after the commit.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, exists, select, text, update
from sqlalchemy.orm import Session

from tradewind import wakeup
from tradewind.db.models import ExecutionEvent, TaskInstance
from tradewind.db.models.execution import STOP
from tradewind.exceptions import TradewindError
from tradewind.remote.tokens import TryClaims
from tradewind.runner.messages import TaskDone
from tradewind.scheduler import transitions
from tradewind.sdk import timezone
from tradewind.sdk.states import TaskInstanceState as TIS

#: PostgreSQL channel the API server notifies after recording an execution event.
NOTIFY_CHANNEL = "tradewind_execution_events"

STARTED = "started"
FINISHED = "finished"
DIED = "died"
ENDS = (FINISHED, DIED)

#: States a try may report as its end (``TaskDone.state``).
_END_STATES = frozenset(
    {TIS.SUCCESS, TIS.FAILED, TIS.SKIPPED, TIS.UP_FOR_RETRY, TIS.UP_FOR_RESCHEDULE}
)
#: Most characters of a ``died`` reason kept.
MAX_REASON = 4000


class RemoteTryError(TradewindError):
    """Base of what the execution API refuses about a try."""


class TryConflict(RemoteTryError):
    """The task instance is not in the state this call needs for the token's try."""


class InvalidTryReport(RemoteTryError):
    """A report of a try (its end) does not fit: the message says which field and why."""


@dataclasses.dataclass(frozen=True)
class StartedTry:
    """A try accepted by ``start``."""

    ti_id: int
    try_number: int
    start_date: datetime


def load_try(session: Session, claims: TryClaims, *, for_update: bool = False) -> TaskInstance:
    """The task instance of the token, checked to be the one the token was signed for.

    An id can come back for another task instance (SQLite reuses the largest id after a
    deleted run), so the token's DAG, run, task and map index must match it too.
    """
    query = select(TaskInstance).where(TaskInstance.id == claims.ti_id)
    if for_update:
        query = query.with_for_update()
    ti = session.scalar(query)
    if ti is None or (ti.dag_id, ti.run_id, ti.task_id, ti.map_index) != (
        claims.dag_id,
        claims.run_id,
        claims.task_id,
        claims.map_index,
    ):
        raise TryConflict(f"task instance {claims.describe()} no longer exists")
    return ti


def require_running(session: Session, claims: TryClaims) -> TaskInstance:
    """The task instance, when it is running the token's try; else ``TryConflict``."""
    ti = load_try(session, claims)
    if ti.state != TIS.RUNNING or ti.try_number != claims.try_number:
        raise TryConflict(
            f"task instance {claims.describe()} no longer runs this try: "
            f"it is {_describe_state(ti)}"
        )
    return ti


def start(
    session: Session,
    claims: TryClaims,
    *,
    hostname: str,
    pid: int,
    home: Path,
    now: datetime | None = None,
) -> StartedTry:
    """Accept the try: queued for exactly this try number and never started before.

    The row moves to running as the scheduler moves a local try (``transitions.start_row``:
    start date, unless a rescheduled sensor already has one; host, pid, first heartbeat), and
    the ``started`` event is recorded, in the caller's one transaction. A second start of the
    same try (its message delivered twice) is refused.
    """
    at = now or timezone.utcnow()
    ti = load_try(session, claims, for_update=True)
    kinds = _kinds(session, claims)
    if STARTED in kinds:
        raise TryConflict(f"try {claims.describe()} was already started")
    if STOP in kinds:
        raise TryConflict(f"try {claims.describe()} was stopped by the scheduler before it began")
    if ti.state != TIS.QUEUED or ti.try_number != claims.try_number:
        raise TryConflict(
            f"task instance {claims.describe()} is not queued for this try: "
            f"it is {_describe_state(ti)}"
        )
    transitions.start_row(ti, pid=pid, hostname=hostname, at=at)
    session.add(
        ExecutionEvent(
            ti_id=claims.ti_id,
            try_number=claims.try_number,
            kind=STARTED,
            payload={"hostname": hostname, "pid": pid, "at": at.isoformat()},
            created_at=at,
        )
    )
    session.flush()
    wake_scheduler(session, home)
    assert ti.start_date is not None  # set by start_row
    return StartedTry(ti.id, ti.try_number, ti.start_date)


def heartbeat(
    session: Session,
    claims: TryClaims,
    *,
    hostname: str,
    pid: int,
    now: datetime | None = None,
) -> None:
    """The try is alive: its last heartbeat (and where it runs) is now. ``TryConflict`` when
    the task instance no longer runs this try, or the scheduler asked to stop it: the worker
    then terminates it. One UPDATE guarded by the state, the try and the absence of a stop
    request, so a try failed meanwhile is never touched."""
    stop_requested = exists().where(
        ExecutionEvent.ti_id == claims.ti_id,
        ExecutionEvent.try_number == claims.try_number,
        ExecutionEvent.kind == STOP,
    )
    changed = session.execute(
        update(TaskInstance)
        .where(
            TaskInstance.id == claims.ti_id,
            TaskInstance.dag_id == claims.dag_id,
            TaskInstance.run_id == claims.run_id,
            TaskInstance.task_id == claims.task_id,
            TaskInstance.map_index == claims.map_index,
            TaskInstance.state == TIS.RUNNING,
            TaskInstance.try_number == claims.try_number,
            ~stop_requested,
        )
        .values(last_heartbeat_at=now or timezone.utcnow(), hostname=hostname, pid=pid)
        .execution_options(synchronize_session=False)
    )
    if getattr(changed, "rowcount", 0) != 1:
        require_running(session, claims)  # raises, saying what the instance is now
        if STOP in _kinds(session, claims):
            raise TryConflict(f"the scheduler asked to stop try {claims.describe()}")
        raise TryConflict(f"task instance {claims.describe()} no longer runs this try")


def finish(
    session: Session,
    claims: TryClaims,
    *,
    kind: str,
    done: dict[str, Any] | None = None,
    reason: str | None = None,
    home: Path,
    now: datetime | None = None,
) -> bool:
    """Record how the try ended (``finished`` with its ``TaskDone`` wire fields, or ``died``
    with a reason) for the scheduler to apply. True when recorded now; False when this end
    was already recorded (a repeat whose answer was lost: answered as a success).
    """
    payload = _end_payload(claims, kind, done, reason)
    ti = load_try(session, claims, for_update=True)
    recorded = _recorded_ends(session, claims)
    if kind in recorded:
        return False
    if recorded:
        raise TryConflict(
            f"the end of try {claims.describe()} was already recorded as {recorded[0]}"
        )
    if ti.state != TIS.RUNNING or ti.try_number != claims.try_number:
        if _already_applied(ti, claims, kind, payload):
            return False
        raise TryConflict(
            f"task instance {claims.describe()} no longer runs this try: "
            f"it is {_describe_state(ti)}"
        )
    session.add(
        ExecutionEvent(
            ti_id=claims.ti_id,
            try_number=claims.try_number,
            kind=kind,
            payload=payload,
            created_at=now or timezone.utcnow(),
        )
    )
    session.flush()
    wake_scheduler(session, home)
    return True


def wake_scheduler(session: Session, home: Path) -> None:
    """Wake schedulers once this transaction commits: NOTIFY on PostgreSQL (sent at commit by
    the server itself), the home's wake-up datagram on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
        return
    event.listen(session, "after_commit", lambda _session: wakeup.notify(home), once=True)


def _end_payload(
    claims: TryClaims, kind: str, done: dict[str, Any] | None, reason: str | None
) -> dict[str, Any]:
    if kind == DIED:
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidTryReport("a died report needs a non-empty 'reason'")
        return {"reason": reason[:MAX_REASON]}
    if kind != FINISHED:
        raise InvalidTryReport(f"kind must be 'finished' or 'died', not {kind!r}")
    if not isinstance(done, dict):
        raise InvalidTryReport("a finished report needs 'done': the TaskDone fields of the try")
    return validated_done(claims, done)


def validated_done(claims: TryClaims, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` as ``TaskDone.as_fields`` gives them, once checked to be this try's end."""
    rest = {name: value for name, value in fields.items() if name != "op"}
    try:
        done = TaskDone(**rest)
    except TypeError as exc:
        raise InvalidTryReport(f"done does not fit TaskDone: {exc}") from None
    if done.ti_id != claims.ti_id or done.try_number != claims.try_number:
        raise InvalidTryReport(
            f"done is for task instance {done.ti_id!r} try {done.try_number!r}, "
            f"but the token is for task instance {claims.ti_id} try {claims.try_number}"
        )
    if done.state not in {state.value for state in _END_STATES}:
        allowed = ", ".join(sorted(state.value for state in _END_STATES))
        raise InvalidTryReport(f"done.state {done.state!r} is not an end of a try ({allowed})")
    for name in ("start_date", "end_date", "reschedule_date"):
        value = getattr(done, name)
        if value is None and name == "reschedule_date":
            continue
        try:
            timezone.parse(value)
        except (TypeError, ValueError, AttributeError):
            raise InvalidTryReport(f"done.{name} is not an ISO 8601 datetime: {value!r}") from None
    _check_shapes(done)
    return done.as_fields()


def _check_shapes(done: TaskDone) -> None:
    if done.error is not None and not isinstance(done.error, str):
        raise InvalidTryReport("done.error must be a string or null")
    if not isinstance(done.skipped_task_ids, list) or not all(
        isinstance(task_id, str) for task_id in done.skipped_task_ids
    ):
        raise InvalidTryReport("done.skipped_task_ids must be a list of task ids")
    if not isinstance(done.rendered_fields, dict):
        raise InvalidTryReport("done.rendered_fields must be an object")
    if not isinstance(done.xcoms, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
        for pair in done.xcoms
    ):
        raise InvalidTryReport("done.xcoms must be a list of [key, encoded value] pairs")


def _recorded_ends(session: Session, claims: TryClaims) -> list[str]:
    return [kind for kind in _kinds(session, claims) if kind in ENDS]


def _kinds(session: Session, claims: TryClaims) -> list[str]:
    return list(
        session.scalars(
            select(ExecutionEvent.kind).where(
                ExecutionEvent.ti_id == claims.ti_id,
                ExecutionEvent.try_number == claims.try_number,
            )
        )
    )


def _already_applied(
    ti: TaskInstance, claims: TryClaims, kind: str, payload: dict[str, Any]
) -> bool:
    """Whether the scheduler already applied this very end (and deleted its event): the
    instance is still at this try, in the state and with the end (or next poke) it reported.
    A ``died`` report is never taken as applied: the scheduler fails a silent try itself."""
    if kind != FINISHED or ti.try_number != claims.try_number or ti.state != payload["state"]:
        return False
    if payload["state"] == TIS.UP_FOR_RESCHEDULE:
        applied, reported = ti.reschedule_date, payload["reschedule_date"]
    else:
        applied, reported = ti.end_date, payload["end_date"]
    return applied is not None and reported is not None and applied == timezone.parse(reported)


def _describe_state(ti: TaskInstance) -> str:
    state = ti.state.value if ti.state is not None else "no state"
    return f"{state} at try {ti.try_number}"
