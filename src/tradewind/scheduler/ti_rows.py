"""Task instances as plain rows, for the passes that read many and change a few.

A scheduler pass reads every task instance of the runs it looks at, and the scheduled ones it
may queue; building ORM objects for them cost more than the SQL. ``TaskInstanceRow`` holds the
columns those decisions use and remembers what was assigned; ``write_changes`` writes that
back, one ``UPDATE ... WHERE id = ?`` executemany per set of changed columns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from tradewind.db.models import TaskInstance
from tradewind.sdk.states import TaskInstanceState

#: Every column, in table order; a row may hold any (each query reads the ones it uses).
ALL = tuple(TaskInstance.__table__.c.keys())
COLUMNS = frozenset(ALL)
#: What deciding a task instance's next state reads.
EVALUATE = (
    "id",
    "dag_id",
    "run_id",
    "task_id",
    "map_index",
    "state",
    "try_number",
    "max_tries",
    "next_retry_at",
    "reschedule_date",
)
#: What a branch skipping instances reads of them.
SKIP = ("id", "task_id", "state")
#: What queueing a scheduled instance reads (its state too: the transition checks it).
QUEUE = (
    "id",
    "dag_id",
    "run_id",
    "task_id",
    "map_index",
    "state",
    "try_number",
    "max_tries",
    "pool",
    "pool_slots",
    "queue",
    "dag_version_id",
    "reschedule_date",
    "start_date",
)


class TaskInstanceRow:
    """Some columns of a task instance; assigning any column records the change for
    ``write_changes``. Reading a column the query did not select raises ``AttributeError``."""

    id: int
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: TaskInstanceState | None
    try_number: int
    max_tries: int
    pool: str
    pool_slots: int
    priority_weight: int
    queue: str
    dag_version_id: int | None
    changed: dict[str, Any]

    def __init__(self, names: Sequence[str], values: Sequence[Any]) -> None:
        attributes = self.__dict__
        attributes.update(zip(names, values, strict=True))
        attributes["changed"] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in COLUMNS:
            raise AttributeError(f"task_instance has no column {name!r}")
        self.__dict__[name] = value
        self.changed[name] = value


#: UPDATE statements by the columns they set (building one costs about as much as running it).
_updates: dict[tuple[str, ...], Any] = {}


def select_rows(names: Sequence[str], *criteria: ColumnElement[bool]) -> Any:
    table = TaskInstance.__table__
    return select(*(table.c[name] for name in names)).where(*criteria)


def rows_of(names: Sequence[str], result: Iterable[Sequence[Any]]) -> list[TaskInstanceRow]:
    return [TaskInstanceRow(names, values) for values in result]


def load(
    session: Session, names: Sequence[str], *criteria: ColumnElement[bool]
) -> list[TaskInstanceRow]:
    """Columns ``names`` of the task instances matching ``criteria`` (pending ORM changes are
    flushed first)."""
    session.flush()
    return rows_of(names, session.execute(select_rows(names, *criteria)))


def write_changes(session: Session, rows: Iterable[Any]) -> set[int]:
    """Write what was assigned on the ``TaskInstanceRow``s among ``rows``; return their ids.

    ORM objects of those task instances already loaded in ``session`` are expired, so they
    are read again when used.
    """
    batches: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if isinstance(row, TaskInstanceRow) and row.changed:
            names = tuple(sorted(row.changed))
            batches[names].append(
                {"b_id": row.id, **{f"b_{name}": row.changed[name] for name in names}}
            )
            row.changed.clear()
    if not batches:
        return set()
    session.flush()
    table = TaskInstance.__table__
    changed_ids: set[int] = set()
    for names, params in batches.items():
        statement = _updates.get(names)
        if statement is None:
            statement = _updates[names] = (
                table.update()
                .where(table.c.id == bindparam("b_id"))
                .values({name: bindparam(f"b_{name}", type_=table.c[name].type) for name in names})
            )
        session.execute(statement, params)
        changed_ids.update(param["b_id"] for param in params)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, TaskInstance) and obj.id in changed_ids:
            session.expire(obj)
    return changed_ids
