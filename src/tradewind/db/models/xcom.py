"""XCom: small values tasks pass to each other, stored as JSON text."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKeyConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tradewind.db.base import ID_LEN, Base
from tradewind.db.types import UtcDateTime, utcnow

RETURN_VALUE_KEY = "return_value"


class XCom(Base):
    """One value pushed by one task instance under one key.

    ``value`` is JSON text written and read by the XCom service; the column is plain text so
    the exact serialized form survives both backends.
    """

    __tablename__ = "xcom"

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    map_index: Mapped[int] = mapped_column(Integer, primary_key=True, default=-1)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        # Deleting a task instance (or its run, or its DAG) removes what it pushed.
        ForeignKeyConstraint(
            ["dag_id", "run_id", "task_id", "map_index"],
            [
                "task_instance.dag_id",
                "task_instance.run_id",
                "task_instance.task_id",
                "task_instance.map_index",
            ],
            ondelete="CASCADE",
        ),
    )
