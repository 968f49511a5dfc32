"""Task logs: ``TaskInstancesLogResponse`` of structured messages."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StructuredLogMessage(BaseModel):
    """One log line: ``event`` is the message; ``timestamp``, ``level`` and more when known."""

    model_config = ConfigDict(extra="allow")

    event: str
    timestamp: str | None = None


class TaskInstancesLogResponse(BaseModel):
    content: list[StructuredLogMessage] | list[str]
    continuation_token: str | None = None
