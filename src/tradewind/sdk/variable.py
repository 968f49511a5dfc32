"""``Variable.get`` in task code, as Airflow DAGs call it.

A running task reads variables the way its templates do (``{{ var.value.key }}``): the
environment first (``TRADEWIND_VAR_KEY``, ``AIRFLOW_VAR_KEY``), then the metastore through
the task's supervisor, and a value of a secret-looking key is masked in the log. Outside a
running task (at a DAG file's top level) there is no supervisor to ask: the call fails saying
so, rather than returning something different from what the task would see.
"""

from __future__ import annotations

from typing import Any

from tradewind.exceptions import TradewindError
from tradewind.sdk.context import _current

_NOT_SET: Any = object()


class Variable:
    """Airflow's ``Variable`` as task code uses it (``airflow.sdk.Variable``,
    ``airflow.models.Variable``)."""

    @staticmethod
    def get(
        key: str,
        default: Any = _NOT_SET,
        deserialize_json: bool = False,
        *,
        default_var: Any = _NOT_SET,
    ) -> Any:
        """The variable's value (parsed as JSON with ``deserialize_json``); ``default`` (or
        Airflow 2's ``default_var``) when it does not exist, else ``KeyError``."""
        context = _current.get()
        if context is None:
            raise TradewindError(
                f"Variable.get({key!r}) outside a running task: Tradewind reads variables "
                "in tasks (or templates: {{ var.value." + key + " }}), not at a DAG file's "
                "top level"
            )
        fallback = default if default is not _NOT_SET else default_var
        accessor = context["var"].json if deserialize_json else context["var"].value
        value = accessor.get(key, _NOT_SET)
        if value is _NOT_SET:
            if fallback is _NOT_SET:
                raise KeyError(f"Variable {key} does not exist")
            return fallback
        return value
