"""Import errors, the audit log (event logs) and the configuration."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from tradewind.api.schemas.common import BUNDLE_NAME
from tradewind.db.models import Log, ParseImportError


class ImportErrorResponse(BaseModel):
    import_error_id: int
    timestamp: datetime
    filename: str
    bundle_name: str | None = BUNDLE_NAME
    stack_trace: str

    @classmethod
    def of(cls, row: ParseImportError) -> ImportErrorResponse:
        return cls(
            import_error_id=row.id,
            timestamp=row.timestamp,
            filename=row.filename,
            stack_trace=row.stacktrace or "",
        )


class ImportErrorCollectionResponse(BaseModel):
    import_errors: list[ImportErrorResponse]
    total_entries: int


class EventLogResponse(BaseModel):
    event_log_id: int
    when: datetime
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None
    event: str
    logical_date: datetime | None = None
    owner: str | None = None
    extra: str | None = None
    dag_display_name: str | None = None
    task_display_name: str | None = None

    @classmethod
    def of(cls, row: Log) -> EventLogResponse:
        return cls(
            event_log_id=row.id,
            when=row.dttm,
            dag_id=row.dag_id,
            task_id=row.task_id,
            run_id=row.run_id,
            map_index=row.map_index,
            try_number=row.try_number,
            event=row.event,
            owner=row.owner,
            extra=json.dumps(row.extra) if row.extra is not None else None,
            dag_display_name=row.dag_id,
            task_display_name=row.task_id,
        )


class EventLogCollectionResponse(BaseModel):
    event_logs: list[EventLogResponse]
    total_entries: int


class ConfigOption(BaseModel):
    key: str
    value: str | tuple[str, str]


class ConfigSection(BaseModel):
    name: str
    options: list[ConfigOption]


class Config(BaseModel):
    sections: list[ConfigSection]

    def as_text(self) -> str:
        lines: list[str] = []
        for section in self.sections:
            lines.append(f"[{section.name}]")
            lines.extend(f"{option.key} = {option.value}" for option in section.options)
            lines.append("")
        return "\n".join(lines)


def config_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


class DAGTagCollectionResponse(BaseModel):
    tags: list[str]
    total_entries: int
