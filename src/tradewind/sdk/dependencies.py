"""``>>`` and ``<<`` between tasks, task groups, XComArgs and lists of them, plus ``chain``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


class DependencyMixin:
    """Anything that can stand on either side of ``>>``.

    Subclasses implement ``roots`` (what an edge *into* this object attaches to) and ``leaves``
    (what an edge *out of* it starts from); for a task both are the task itself.
    """

    @property
    def roots(self) -> list[Any]:
        raise NotImplementedError

    @property
    def leaves(self) -> list[Any]:
        raise NotImplementedError

    def set_upstream(self, other: Any) -> None:
        for upstream in _flatten_leaves(other):
            for task in self.roots:
                task._add_edge_from(upstream)

    def set_downstream(self, other: Any) -> None:
        for downstream in _flatten_roots(other):
            for task in self.leaves:
                downstream._add_edge_from(task)

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> Any:
        # [a, b] >> self
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> Any:
        # [a, b] << self
        self.set_downstream(other)
        return self


def _items(other: Any) -> Iterable[Any]:
    if isinstance(other, DependencyMixin):
        return [other]
    if isinstance(other, Iterable) and not isinstance(other, (str, bytes)):
        return list(other)
    raise TypeError(
        f"cannot set a dependency on {other!r}: expected a task, task group, XComArg or a list of "
        "them"
    )


def _flatten_roots(other: Any) -> list[Any]:
    result: list[Any] = []
    for item in _items(other):
        if not isinstance(item, DependencyMixin):
            raise TypeError(f"cannot set a dependency on {item!r}")
        result.extend(item.roots)
    return result


def _flatten_leaves(other: Any) -> list[Any]:
    result: list[Any] = []
    for item in _items(other):
        if not isinstance(item, DependencyMixin):
            raise TypeError(f"cannot set a dependency on {item!r}")
        result.extend(item.leaves)
    return result


def chain(*elements: Any) -> None:
    """``chain(a, [b, c], d)``: a >> [b, c] >> d; two adjacent lists of equal length pair up."""
    for up, down in zip(elements, elements[1:], strict=False):
        if isinstance(up, Sequence) and isinstance(down, Sequence) and not isinstance(up, str):
            if len(up) != len(down):
                raise ValueError(
                    f"chain() of two adjacent lists needs equal lengths, got {len(up)} and "
                    f"{len(down)}"
                )
            for a, b in zip(up, down, strict=True):
                a.set_downstream(b)
        elif isinstance(up, Sequence) and not isinstance(up, str):
            for a in up:
                a.set_downstream(down)
        else:
            up.set_downstream(down)


def cross_downstream(from_tasks: Sequence[Any], to_tasks: Any) -> None:
    """Every task in ``from_tasks`` becomes upstream of every task in ``to_tasks``."""
    for task in from_tasks:
        task.set_downstream(to_tasks)


def chain_linear(*elements: Any) -> None:
    """``chain_linear(a, [b, c], [d, e])``: each element (a task or a list) upstream of every
    task of the next, unlike ``chain``, which pairs adjacent lists."""
    if len(elements) < 2:
        raise ValueError("chain_linear() needs at least two elements")
    for up, down in zip(elements, elements[1:], strict=False):
        ups = list(up) if isinstance(up, Sequence) and not isinstance(up, str) else [up]
        downs = list(down) if isinstance(down, Sequence) and not isinstance(down, str) else [down]
        for task in ups:
            task.set_downstream(downs)
