"""Reading XComs from the metastore, for mapped-task expansion and for task processes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db.models import XCom
from tradewind.runner import xcom_codec


def get_encoded(
    session: Session, dag_id: str, run_id: str, task_id: str, map_index: int, key: str
) -> str | None:
    return session.scalar(
        select(XCom.value).where(
            XCom.dag_id == dag_id,
            XCom.run_id == run_id,
            XCom.task_id == task_id,
            XCom.map_index == map_index,
            XCom.key == key,
        )
    )


def get_mapped_encoded(
    session: Session, dag_id: str, run_id: str, task_id: str, key: str
) -> list[str]:
    rows = session.execute(
        select(XCom.map_index, XCom.value)
        .where(
            XCom.dag_id == dag_id, XCom.run_id == run_id, XCom.task_id == task_id, XCom.key == key
        )
        .where(XCom.map_index >= 0)
        .order_by(XCom.map_index)
    )
    return [value for _, value in rows if value is not None]


def pull(
    session: Session, dag_id: str, run_id: str, task_id: str, key: str, *, mapped: bool
) -> Any:
    """The value as a task would pull it: a list in map-index order for a mapped producer."""
    if mapped:
        return [
            xcom_codec.decode(v) for v in get_mapped_encoded(session, dag_id, run_id, task_id, key)
        ]
    encoded = get_encoded(session, dag_id, run_id, task_id, -1, key)
    return None if encoded is None else xcom_codec.decode(encoded)
