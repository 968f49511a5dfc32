"""XCom entries for people: list what task instances pushed and read one value.

Values are stored as tagged JSON (``runner.xcom_codec``). ``native_value`` gives them back as
plain JSON data (datetimes as ISO 8601 text, tuples and sets as lists); ``string_value`` as the
``str()`` of the Python value, which is Airflow's "stringify" form.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from tradewind.db.models import DagRun, TaskInstance, XCom
from tradewind.exceptions import TradewindError
from tradewind.runner import xcom_codec
from tradewind.services import dag_metadata, paging


class XComNotFound(TradewindError):
    """No such XCom entry."""


@dataclasses.dataclass(frozen=True)
class XComView:
    """An XCom row with its run and the display names of its DAG and task."""

    row: XCom
    run: DagRun
    dag_display_name: str
    task_display_name: str


ORDER_COLUMNS: Mapping[str, Any] = {
    "key": XCom.key,
    "timestamp": XCom.timestamp,
    "map_index": XCom.map_index,
    "task_id": XCom.task_id,
    "dag_id": XCom.dag_id,
    "run_id": XCom.run_id,
    "dag_run_id": XCom.run_id,
    "logical_date": DagRun.logical_date,
    "run_after": DagRun.run_after,
}

_JOIN_RUN = and_(DagRun.dag_id == XCom.dag_id, DagRun.run_id == XCom.run_id)
_JOIN_TI = and_(
    TaskInstance.dag_id == XCom.dag_id,
    TaskInstance.run_id == XCom.run_id,
    TaskInstance.task_id == XCom.task_id,
    TaskInstance.map_index == XCom.map_index,
)


def _query() -> Any:
    return (
        select(XCom, DagRun, TaskInstance.dag_version_id)
        .join(DagRun, _JOIN_RUN)
        .join(TaskInstance, _JOIN_TI)
    )


def _views(session: Session, rows: Sequence[Any]) -> list[XComView]:
    versions = dag_metadata.versions_by_id(session, (row[2] for row in rows))
    views = []
    for xcom, run, version_id in rows:
        version = versions.get(version_id) if version_id is not None else None
        summary = dag_metadata.version_summary(version) if version is not None else None
        views.append(
            XComView(
                xcom,
                run,
                summary.display_name if summary else xcom.dag_id,
                summary.task_display_name(xcom.task_id) if summary else xcom.task_id,
            )
        )
    return views


def list_page(
    session: Session,
    *,
    dag_id: str | None,
    run_id: str | None,
    task_id: str | None,
    key: str | None = None,
    map_index: int | None = None,
    key_pattern: str | None = None,
    order_by: str | Sequence[str] | None = None,
    page: paging.Page,
) -> tuple[list[XComView], int]:
    """One page of XCom entries; ``None`` for dag, run or task means any (Airflow's ``~``)."""
    query = paging.where_all(
        _query(),
        [
            XCom.dag_id == dag_id if dag_id is not None else None,
            XCom.run_id == run_id if run_id is not None else None,
            XCom.task_id == task_id if task_id is not None else None,
            XCom.key == key if key is not None else None,
            XCom.map_index == map_index if map_index is not None else None,
            paging.pattern(XCom.key, key_pattern),
        ],
    )
    order = paging.order_clauses(
        order_by, ORDER_COLUMNS, default=["dag_id", "run_id", "task_id", "map_index", "key"]
    )
    rows, total = paging.paginate(session, query, order, page, whole_rows=True)
    return _views(session, rows), total


def get_entry(
    session: Session, dag_id: str, run_id: str, task_id: str, key: str, map_index: int = -1
) -> XComView:
    row = session.execute(
        _query().where(
            XCom.dag_id == dag_id,
            XCom.run_id == run_id,
            XCom.task_id == task_id,
            XCom.key == key,
            XCom.map_index == map_index,
        )
    ).first()
    if row is None:
        raise XComNotFound(f"XCom entry with key: `{key}` not found")
    return _views(session, [row])[0]


def python_value(row: XCom) -> Any:
    return None if row.value is None else xcom_codec.decode(row.value)


def native_value(row: XCom) -> Any:
    """The value as plain JSON data."""
    return _jsonable(python_value(row))


def string_value(row: XCom) -> str | None:
    value = python_value(row)
    return None if value is None else str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [_jsonable(item) for item in items]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return value
