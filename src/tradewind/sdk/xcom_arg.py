"""``XComArg``: a reference to a task's future XCom value, usable as another task's argument.

Passing an XComArg to a task makes the producing task upstream of it; at run time the
reference resolves to the pulled value. ``arg["key"]`` refers to one key of a task with
``multiple_outputs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tradewind.sdk.dependencies import DependencyMixin

if TYPE_CHECKING:
    from tradewind.sdk.context import Context
    from tradewind.sdk.task_node import TaskNode

RETURN_VALUE_KEY = "return_value"


class XComArg(DependencyMixin):
    """The XCom ``key`` pushed by ``operator``."""

    def __init__(self, operator: TaskNode, key: str = RETURN_VALUE_KEY) -> None:
        self.operator = operator
        self.key = key

    @property
    def roots(self) -> list[Any]:
        return [self.operator]

    @property
    def leaves(self) -> list[Any]:
        return [self.operator]

    def __getitem__(self, key: str) -> XComArg:
        if not isinstance(key, str):
            raise TypeError(f"XComArg keys are strings, got {key!r}")
        return XComArg(self.operator, key)

    def __iter__(self) -> Any:
        raise TypeError(
            f"the output of task {self.operator.task_id!r} is not known until it runs, so it "
            "cannot be iterated while the DAG is defined; pass it to a task (or .expand()) instead"
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, XComArg) and other.operator is self.operator and other.key == self.key
        )

    def __hash__(self) -> int:
        return hash((id(self.operator), self.key))

    def __str__(self) -> str:
        # Lets f"{arg}" inside a templated string render as a pull, as in Airflow.
        return (
            "{{ task_instance.xcom_pull(task_ids='"
            + self.operator.task_id
            + "', key='"
            + self.key
            + "') }}"
        )

    def __repr__(self) -> str:
        return f"XComArg({self.operator.task_id!r}, key={self.key!r})"

    def resolve(self, context: Context) -> Any:
        """The value at run time: a list in map-index order when the producer is mapped."""
        value = context["ti"].xcom_pull(task_ids=self.operator.task_id, key=self.key)
        return value

    def serialize(self) -> dict[str, str]:
        return {"task_id": self.operator.task_id, "key": self.key}


def find_xcom_args(values: Any) -> list[XComArg]:
    """Every XComArg inside ``values`` (nested lists, tuples, sets and dict values)."""
    found: list[XComArg] = []
    stack = [values]
    seen: set[int] = set()
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, XComArg):
            found.append(value)
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
    return found
