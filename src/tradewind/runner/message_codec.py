"""The one encoder and decoder of ``runner.messages``, and the protocol version.

**Lines** (try <-> supervisor): one JSON object a line, ``{"op": ..., field: value, ...}``;
a ``Reply`` is its fields alone. A channel from a fork speaks the code of the process it was
forked from, so only the frames that can meet another release carry ``"v"``, the protocol
version: the ``Resume`` hello (and its ``Resumed`` answer) of a try that outlived its
scheduler, and ``TaskDone``, which also lies in the outcome file a later scheduler reads. A
frame without ``"v"`` is of version 1 (the format before versions were numbered).

**Packets** (executor <-> launcher and fork server, ``SOCK_SEQPACKET``): a 6-byte header,
``b"TW"`` and the version (big-endian 32-bit), then the pickled message. The fork server is a
new interpreter that may load a newer install than the executor's; the header is read before
anything is unpickled.

A peer of another version fails with ``ProtocolMismatch``, which names both versions.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import struct
from collections.abc import Callable
from typing import Any

from tradewind.exceptions import TradewindError
from tradewind.runner import messages
from tradewind.runner.messages import (
    LineMessage,
    PacketMessage,
    Reply,
    Request,
    Resume,
    Resumed,
    TaskDone,
)

#: Bumped when a message changes incompatibly.
PROTOCOL_VERSION = 1

_PACKET_HEADER = struct.Struct("!2sI")
_MAGIC = b"TW"
_VERSIONED: dict[str, type[Any]] = {"done": TaskDone, "resume": Resume, "resumed": Resumed}
_PACKETS = (
    messages.Ready,
    messages.LoadFailed,
    messages.Launch,
    messages.Started,
    messages.LaunchFailed,
    messages.Exited,
    messages.Reap,
    messages.Spawn,
    messages.Spawned,
    messages.SpawnFailed,
)


class ProtocolMismatch(TradewindError, ValueError):
    """The peer speaks another version of the protocol between a try and its scheduler."""

    def __init__(self, theirs: object, what: str) -> None:
        super().__init__(
            f"{what} speaks protocol version {theirs}, this process speaks version "
            f"{PROTOCOL_VERSION}: the two come from different Tradewind releases"
        )
        self.theirs = theirs


class MalformedMessage(TradewindError, ValueError):
    """A frame that is no message of this protocol."""


# -- lines --------------------------------------------------------------------------------------
def to_frame(message: LineMessage) -> dict[str, Any]:
    """The JSON object of one line."""
    if isinstance(message, Reply):
        return message.fields
    if isinstance(message, Request | TaskDone):
        frame = message.as_fields()
    else:
        frame = {"op": message.op, **{f.name: getattr(message, f.name) for f in _fields(message)}}
    if message.op in _VERSIONED:
        frame["v"] = PROTOCOL_VERSION
    return frame


def encode_line(message: LineMessage) -> bytes:
    """One message as the line ``LineChannel`` sends."""
    return frame_to_line(to_frame(message))


def frame_to_line(frame: dict[str, Any]) -> bytes:
    return json.dumps(frame, separators=(",", ":"), default=str).encode() + b"\n"


def from_frame(frame: Any, *, what: str = "the peer") -> LineMessage:
    """The message a received JSON object is; ``ProtocolMismatch`` when it comes from another
    release, ``MalformedMessage`` when it is none."""
    if not isinstance(frame, dict):
        raise MalformedMessage(f"expected a JSON object, got {type(frame).__name__}")
    op = frame.get("op")
    if op is None:
        return Reply(frame)
    version = frame.get("v", 1)
    if version != PROTOCOL_VERSION:
        raise ProtocolMismatch(version, what)
    cls: type[Any] | None = messages.REQUESTS.get(op) or _VERSIONED.get(op)
    if cls is None:
        raise MalformedMessage(f"unknown message {op!r}")
    fields = {key: value for key, value in frame.items() if key != "op" and key != "v"}
    try:
        message: LineMessage = cls(**fields)
        return message
    except TypeError as exc:
        raise MalformedMessage(f"message {op!r} does not fit: {exc}") from None


def relay_sender(ask: Callable[[Request], Reply]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """``operators.supervisor_comms``'s sender over ``ask``: wire fields in, reply fields out
    (a request that is none of ours is answered with an error, as the scheduler would)."""

    def send(fields: dict[str, Any]) -> dict[str, Any]:
        try:
            request = messages.request_from_fields(fields)
        except ValueError as exc:
            return {"error": str(exc)}
        return ask(request).fields

    return send


def decode_line(line: bytes | str, *, what: str = "the peer") -> LineMessage:
    try:
        frame = json.loads(line)
    except ValueError as exc:
        raise MalformedMessage(f"not JSON: {exc}") from None
    return from_frame(frame, what=what)


def _fields(message: Any) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(message)


# -- packets ------------------------------------------------------------------------------------
def encode_packet(message: PacketMessage) -> bytes:
    return _PACKET_HEADER.pack(_MAGIC, PROTOCOL_VERSION) + pickle.dumps(
        message, protocol=pickle.HIGHEST_PROTOCOL
    )


def decode_packet(data: bytes, *, what: str = "the peer") -> PacketMessage:
    if len(data) < _PACKET_HEADER.size:
        raise MalformedMessage(f"a frame of {len(data)} bytes has no header")
    magic, version = _PACKET_HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise ProtocolMismatch("unknown (no version header)", what)
    if version != PROTOCOL_VERSION:
        raise ProtocolMismatch(version, what)
    message: Any = pickle.loads(memoryview(data)[_PACKET_HEADER.size :])
    if not isinstance(message, _PACKETS):
        raise MalformedMessage(f"not a message: {type(message).__name__}")
    return message
