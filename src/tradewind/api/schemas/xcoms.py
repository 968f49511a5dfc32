"""XCom entries: ``XComResponse`` in listings, native or string values for one entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from tradewind.services import xcoms


class XComResponse(BaseModel):
    key: str
    timestamp: datetime
    logical_date: datetime | None = None
    map_index: int
    task_id: str
    dag_id: str
    run_id: str
    run_after: datetime
    dag_display_name: str
    task_display_name: str

    @classmethod
    def fields_of(cls, view: xcoms.XComView) -> dict[str, Any]:
        row = view.row
        return {
            "key": row.key,
            "timestamp": row.timestamp,
            "logical_date": view.run.logical_date,
            "map_index": row.map_index,
            "task_id": row.task_id,
            "dag_id": row.dag_id,
            "run_id": row.run_id,
            "run_after": view.run.run_after,
            "dag_display_name": view.dag_display_name,
            "task_display_name": view.task_display_name,
        }

    @classmethod
    def of(cls, view: xcoms.XComView) -> XComResponse:
        return cls(**cls.fields_of(view))


class XComResponseNative(XComResponse):
    value: Any

    @classmethod
    def of(cls, view: xcoms.XComView) -> XComResponseNative:
        return cls(**cls.fields_of(view), value=xcoms.native_value(view.row))


class XComResponseString(XComResponse):
    value: str | None = None

    @classmethod
    def of(cls, view: xcoms.XComView) -> XComResponseString:
        return cls(**cls.fields_of(view), value=xcoms.string_value(view.row))


class XComCollectionResponse(BaseModel):
    xcom_entries: list[XComResponse]
    total_entries: int
