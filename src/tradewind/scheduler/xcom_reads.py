"""Reading XComs from the metastore for task processes (a scheduler pass reads the XComs it
expands mapped tasks over in one batch: ``run_view``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db.models import XCom


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
