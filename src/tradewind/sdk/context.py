"""The template context a task runs with, and ``get_current_context()``.

The context is a plain dict with Airflow's keys (``ds``, ``ti``, ``params``, ...). The
``var`` and ``conn`` accessors look values up through functions the runner supplies, so the
SDK itself never touches a database.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Callable, Iterator
from typing import Any

from tradewind.exceptions import TradewindError


class Context(dict[str, Any]):
    """What a running task sees: ``context["ti"]``, ``context["ds"]``, ..."""


_current: contextvars.ContextVar[Context | None] = contextvars.ContextVar(
    "tradewind_context", default=None
)


def get_current_context() -> Context:
    """The context of the task running now; only valid inside a task's execution."""
    context = _current.get()
    if context is None:
        raise TradewindError("get_current_context() was called outside a running task")
    return context


@contextlib.contextmanager
def current_context(context: Context) -> Iterator[Context]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


class _Missing(KeyError):
    pass


class VariableAccessor:
    """``{{ var.value.name }}`` and ``{{ var.json.name }}`` in templates."""

    def __init__(
        self, lookup: Callable[[str], str | None], *, deserialize_json: bool = False
    ) -> None:
        self._lookup = lookup
        self._json = deserialize_json

    @property
    def value(self) -> VariableAccessor:
        return VariableAccessor(self._lookup)

    @property
    def json(self) -> VariableAccessor:
        return VariableAccessor(self._lookup, deserialize_json=True)

    def get(self, key: str, default: Any = None) -> Any:
        raw = self._lookup(key)
        if raw is None:
            return default
        return json.loads(raw) if self._json else raw

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        raw = self._lookup(key)
        if raw is None:
            raise KeyError(f"Variable {key} does not exist")
        return json.loads(raw) if self._json else raw

    __getitem__ = __getattr__


class ConnectionAccessor:
    """``{{ conn.my_conn.host }}`` in templates."""

    def __init__(self, lookup: Callable[[str], Any]) -> None:
        self._lookup = lookup

    def get(self, conn_id: str, default: Any = None) -> Any:
        found = self._lookup(conn_id)
        return default if found is None else found

    def __getattr__(self, conn_id: str) -> Any:
        if conn_id.startswith("_"):
            raise AttributeError(conn_id)
        found = self._lookup(conn_id)
        if found is None:
            raise KeyError(f"The conn_id `{conn_id}` isn't defined")
        return found

    __getitem__ = __getattr__
