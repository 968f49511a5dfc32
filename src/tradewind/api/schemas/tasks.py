"""Tasks of a DAG as stored: ``TaskResponse``, ``TaskCollectionResponse``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from tradewind.api.schemas.common import TimeDelta
from tradewind.api.schemas.dags import params_json

#: Airflow 3.1 made retry_exponential_backoff a multiplier; True meant doubling.
_BACKOFF_MULTIPLIER = 2.0


class TaskResponse(BaseModel):
    task_id: str | None
    task_display_name: str | None = None
    owner: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    trigger_rule: str | None = None
    depends_on_past: bool
    wait_for_downstream: bool
    retries: int | float | None = None
    queue: str | None = None
    pool: str | None = None
    pool_slots: int | float | None = None
    execution_timeout: TimeDelta | None = None
    retry_delay: TimeDelta | None = None
    retry_exponential_backoff: float
    priority_weight: int | float | None = None
    weight_rule: str | None = None
    ui_color: str | None = None
    ui_fgcolor: str | None = None
    template_fields: list[str] | None = None
    downstream_task_ids: list[str] | None = None
    doc_md: str | None = None
    operator_name: str | None = None
    params: dict[str, Any] | None = None
    class_ref: dict[str, Any] | None = None
    is_mapped: bool | None = None
    extra_links: list[str]

    @classmethod
    def of(cls, task: Any) -> TaskResponse:
        trigger_rule = getattr(task, "trigger_rule", None)
        params = getattr(task, "params", None)
        return cls(
            task_id=task.task_id,
            task_display_name=getattr(task, "task_display_name", None) or task.task_id,
            owner=getattr(task, "owner", None),
            start_date=getattr(task, "start_date", None),
            end_date=getattr(task, "end_date", None),
            trigger_rule=getattr(trigger_rule, "value", trigger_rule),
            depends_on_past=bool(getattr(task, "depends_on_past", False)),
            wait_for_downstream=bool(getattr(task, "wait_for_downstream", False)),
            retries=getattr(task, "retries", None),
            queue=getattr(task, "queue", None),
            pool=getattr(task, "pool", None),
            pool_slots=getattr(task, "pool_slots", None),
            execution_timeout=TimeDelta.of(getattr(task, "execution_timeout", None)),
            retry_delay=TimeDelta.of(getattr(task, "retry_delay", None)),
            retry_exponential_backoff=_BACKOFF_MULTIPLIER
            if getattr(task, "retry_exponential_backoff", False)
            else 0.0,
            priority_weight=getattr(task, "priority_weight", None),
            weight_rule=getattr(task, "weight_rule", None),
            ui_color=getattr(task, "ui_color", None),
            ui_fgcolor=getattr(task, "ui_fgcolor", None),
            template_fields=list(getattr(task, "template_fields", ()) or ()),
            downstream_task_ids=sorted(task.downstream_task_ids),
            doc_md=getattr(task, "doc_md", None),
            operator_name=getattr(task, "operator_name", None) or getattr(task, "task_type", None),
            params=params_json(params)
            if params is not None and hasattr(params, "get_param")
            else None,
            class_ref={
                "module_path": getattr(task, "operator_module", None),
                "class_name": getattr(task, "task_type", None),
            },
            is_mapped=bool(getattr(task, "is_mapped", False)),
            extra_links=[],
        )


class TaskCollectionResponse(BaseModel):
    tasks: list[TaskResponse]
    total_entries: int
