"""What can go wrong turning a DAG into JSON and back."""

from __future__ import annotations

from tradewind.exceptions import TradewindError


class SerializationError(TradewindError):
    """A DAG could not be serialized, or a stored serialized DAG could not be read back."""


class SerializedTaskNotExecutable(SerializationError):
    """A task read back from a serialized DAG was asked
    to run: only the DAG file's real task can."""
