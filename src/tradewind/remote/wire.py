"""The wire form of one remote try: what the scheduler puts in a broker message for a worker.

A message is plain JSON (brokers and workers of other versions must be able to read it, and
JSON cannot carry code the way pickle can): the try's ``TaskWorkload`` with its ``RunInfo``,
the queued token that lets the worker start the try, the URL of the execution API to start it
on, and a format version so a worker refuses a message it does not understand instead of
running it wrongly.
"""

from __future__ import annotations

import dataclasses
import typing
from datetime import datetime
from typing import Any

from tradewind.runner.runtime import RunInfo
from tradewind.runner.workload import TaskWorkload

#: Bumped whenever a field changes meaning or a required field is added.
FORMAT_VERSION = 1


class BadTryMessage(ValueError):
    """A broker message that is not a try this worker can run; the message says what is wrong."""


@dataclasses.dataclass(frozen=True)
class TryMessage:
    """One try sent to a worker."""

    workload: TaskWorkload
    #: ``remote.tokens`` scope ``queued``: start the try and fetch its bundle, nothing else.
    token: str
    #: Where the worker talks to the API server, e.g. ``http://api:8080/execution/``.
    execution_api_url: str


def encode(message: TryMessage) -> dict[str, Any]:
    """The message as a JSON-ready dict."""
    return {
        "version": FORMAT_VERSION,
        "workload": _dataclass_to_json(message.workload),
        "token": message.token,
        "execution_api_url": message.execution_api_url,
    }


def decode(body: Any) -> TryMessage:
    """The try in a decoded JSON message body; ``BadTryMessage`` saying what does not fit."""
    if not isinstance(body, dict):
        raise BadTryMessage(f"a try message is a JSON object, got {type(body).__name__}")
    version = body.get("version")
    if version != FORMAT_VERSION:
        raise BadTryMessage(
            f"try message format version {version!r}: this worker reads version "
            f"{FORMAT_VERSION} (run workers of the scheduler's Tradewind version)"
        )
    for key in ("token", "execution_api_url"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise BadTryMessage(f"try message field {key!r} must be a non-empty string")
    raw_workload = body.get("workload")
    if not isinstance(raw_workload, dict):
        raise BadTryMessage("try message field 'workload' must be a JSON object")
    raw_run = raw_workload.get("run")
    if not isinstance(raw_run, dict):
        raise BadTryMessage("try message field 'workload.run' must be a JSON object")
    run = _dataclass_from_json(RunInfo, raw_run, "workload.run")
    workload = _dataclass_from_json(TaskWorkload, {**raw_workload, "run": run}, "workload")
    return TryMessage(
        workload=workload, token=body["token"], execution_api_url=body["execution_api_url"]
    )


def _dataclass_to_json(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            out[field.name] = _dataclass_to_json(item)
        elif isinstance(item, datetime):
            out[field.name] = item.isoformat()
        else:
            out[field.name] = item
    return out


def _dataclass_from_json(cls: type[Any], raw: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise BadTryMessage(f"{where} has unknown fields {unknown}")
    values: dict[str, Any] = {}
    for name, field in fields.items():
        if name not in raw:
            if (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            ):
                raise BadTryMessage(f"{where} lacks the field {name!r}")
            continue
        item = raw[name]
        if item is not None and _is_datetime(hints[name]):
            try:
                item = datetime.fromisoformat(item)
            except (TypeError, ValueError):
                raise BadTryMessage(f"{where}.{name} is not an ISO 8601 date: {item!r}") from None
        values[name] = item
    return cls(**values)


def _is_datetime(hint: Any) -> bool:
    return hint is datetime or datetime in typing.get_args(hint)
