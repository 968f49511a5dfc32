"""Task instances and their tries, and the bodies of clearing and state changes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from tradewind.api.schemas.common import DagVersionResponse, IsoAwareDatetime, RequestBody, row_uuid
from tradewind.db.models import TaskInstance
from tradewind.services import task_instances

# By name too: inside TaskInstanceCollectionResponse, `task_instances` is the field.
from tradewind.services.task_instances import TaskInstanceView


def _fields(view: task_instances.TaskInstanceView) -> dict[str, Any]:
    ti, run = view.ti, view.run
    return {
        "task_id": ti.task_id,
        "dag_id": ti.dag_id,
        "dag_run_id": ti.run_id,
        "map_index": ti.map_index,
        "start_date": ti.start_date,
        "end_date": ti.end_date,
        "duration": ti.duration,
        "state": ti.state,
        "try_number": ti.try_number,
        "max_tries": ti.max_tries,
        "task_display_name": view.task_display_name,
        "dag_display_name": view.dag_display_name,
        "hostname": ti.hostname,
        "unixname": None,
        "pool": ti.pool,
        "pool_slots": ti.pool_slots,
        "queue": ti.queue,
        "priority_weight": ti.priority_weight,
        "operator": ti.operator,
        "operator_name": view.operator_name,
        "queued_when": ti.queued_dttm,
        "scheduled_when": ti.scheduled_dttm,
        "pid": ti.pid,
        "executor": None,
        "executor_config": str(ti.executor_config or {}),
        "dag_version": DagVersionResponse.of(view.version) if view.version is not None else None,
        "logical_date": run.logical_date,
        "run_after": run.run_after,
    }


class TaskInstanceHistoryResponse(BaseModel):
    task_id: str
    dag_id: str
    dag_run_id: str
    map_index: int
    start_date: datetime | None = None
    end_date: datetime | None = None
    duration: float | None = None
    state: str | None = None
    try_number: int
    max_tries: int
    task_display_name: str
    dag_display_name: str
    hostname: str | None = None
    unixname: str | None = None
    pool: str
    pool_slots: int
    queue: str | None = None
    priority_weight: int | None = None
    operator: str | None = None
    operator_name: str | None = None
    queued_when: datetime | None = None
    scheduled_when: datetime | None = None
    pid: int | None = None
    executor: str | None = None
    executor_config: str
    dag_version: DagVersionResponse | None = None

    @classmethod
    def of(cls, view: task_instances.TaskInstanceView) -> TaskInstanceHistoryResponse:
        fields = _fields(view)
        fields.pop("logical_date")
        fields.pop("run_after")
        return cls(**fields)


class TaskInstanceResponse(BaseModel):
    id: uuid.UUID
    task_id: str
    dag_id: str
    dag_run_id: str
    map_index: int
    logical_date: datetime | None = None
    run_after: datetime
    start_date: datetime | None = None
    end_date: datetime | None = None
    duration: float | None = None
    state: str | None = None
    try_number: int
    max_tries: int
    task_display_name: str
    dag_display_name: str
    hostname: str | None = None
    unixname: str | None = None
    pool: str
    pool_slots: int
    queue: str | None = None
    priority_weight: int | None = None
    operator: str | None = None
    operator_name: str | None = None
    queued_when: datetime | None = None
    scheduled_when: datetime | None = None
    pid: int | None = None
    executor: str | None = None
    executor_config: str
    note: str | None = None
    rendered_map_index: str | None = None
    rendered_fields: dict[str, Any] | None = None
    trigger: dict[str, Any] | None = None
    triggerer_job: dict[str, Any] | None = None
    dag_version: DagVersionResponse | None = None

    @classmethod
    def of(cls, view: task_instances.TaskInstanceView) -> TaskInstanceResponse:
        ti = view.ti
        if not isinstance(ti, TaskInstance):
            raise TypeError("a finished try is a TaskInstanceHistoryResponse")
        return cls(
            **_fields(view),
            id=row_uuid(ti.id),
            note=ti.note,
            rendered_map_index=str(ti.map_index) if ti.map_index >= 0 else None,
            rendered_fields=dict(ti.rendered_fields or {}),
        )


class TaskInstanceCollectionResponse(BaseModel):
    task_instances: list[TaskInstanceResponse]
    total_entries: int | None
    next_cursor: str | None = None
    previous_cursor: str | None = None

    @classmethod
    def of(
        cls, views: Sequence[TaskInstanceView], total: int | None = None
    ) -> TaskInstanceCollectionResponse:
        return cls(
            task_instances=[TaskInstanceResponse.of(view) for view in views],
            total_entries=len(views) if total is None else total,
        )


class TaskInstanceHistoryCollectionResponse(BaseModel):
    task_instances: list[TaskInstanceHistoryResponse]
    total_entries: int


class ClearTaskInstancesBody(RequestBody):
    dry_run: bool = True
    start_date: IsoAwareDatetime | None = None
    end_date: IsoAwareDatetime | None = None
    only_failed: bool = True
    only_running: bool = False
    reset_dag_runs: bool = True
    task_ids: list[str | tuple[str, int]] | None = None
    dag_run_id: str | None = None
    include_upstream: bool = False
    include_downstream: bool = False
    include_future: bool = False
    include_past: bool = False
    run_on_latest_version: bool | None = None
    prevent_running_task: bool = False
    note: str | None = Field(None, max_length=1000)


class PatchTaskInstanceBody(RequestBody):
    new_state: str | None = None
    note: str | None = Field(None, max_length=1000)
    include_upstream: bool = False
    include_downstream: bool = False
    include_future: bool = False
    include_past: bool = False

    @field_validator("new_state", mode="before")
    @classmethod
    def _markable(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str) or value.lower() not in task_instances.MARKABLE_STATES:
            raise ValueError(f"'{value}' is not one of {list(task_instances.MARKABLE_STATES)}")
        return value.lower()
