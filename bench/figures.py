"""A measured figure: its repetitions, median/min/max, unit and target.

Values are kept in the unit they are shown in (``ms``, ``s``, ``tasks/s``, ``MiB``,
``packages``). ``seconds_per_unit`` turns a time (or a rate) into seconds, so any time can
also be read as a multiple of the run's baseline, one bare ``python -c pass``: that ratio
moves much less than the raw figure when the machine is busy or slow.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterator
from typing import Any

TIME_UNITS = {"ms": 0.001, "s": 1.0}
RATE_UNITS = {"tasks/s"}
#: Units of figures where more is better: rates, and shares of what was expected.
HIGHER_UNITS = RATE_UNITS | {"%"}


class BenchError(Exception):
    """A workload could not be measured (a timeout, a failed run, a process that died)."""


@dataclasses.dataclass(frozen=True)
class Target:
    """``op`` is ``"<"`` (the figure must stay below ``limit``), ``"<="`` or ``">="``."""

    op: str
    limit: float

    def met(self, value: float) -> bool:
        if self.op == "<":
            return value < self.limit
        if self.op == "<=":
            return value <= self.limit
        return value >= self.limit

    def describe(self, unit: str) -> str:
        return f"{self.op} {self.limit:g} {unit}"


@dataclasses.dataclass
class Figure:
    key: str
    label: str
    unit: str
    values: list[float] = dataclasses.field(default_factory=list)
    target: Target | None = None
    notes: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.values)

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def min(self) -> float | None:
        return min(self.values) if self.values else None

    @property
    def max(self) -> float | None:
        return max(self.values) if self.values else None

    @property
    def higher_is_better(self) -> bool:
        return self.unit in HIGHER_UNITS

    def met(self) -> bool | None:
        if self.target is None or self.median is None:
            return None
        return self.target.met(self.median)

    def seconds_each(self) -> float | None:
        """The median as seconds (for a rate: seconds per task), or None if not a time."""
        value = self.median
        if value is None or value <= 0:
            return None
        if self.unit in TIME_UNITS:
            return value * TIME_UNITS[self.unit]
        if self.unit in RATE_UNITS:
            return 1.0 / value
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "unit": self.unit,
            "values": self.values,
            "median": self.median,
            "min": self.min,
            "max": self.max,
            "target": None
            if self.target is None
            else {"op": self.target.op, "limit": self.target.limit},
            "target_met": self.met(),
            "notes": self.notes,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figure:
        target = data.get("target")
        return cls(
            key=data["key"],
            label=data["label"],
            unit=data["unit"],
            values=list(data["values"]),
            target=Target(target["op"], target["limit"]) if target else None,
            notes=data.get("notes", ""),
            error=data.get("error"),
        )


def speedup(tradewind: Figure, airflow: Figure) -> float | None:
    """How many times better Tradewind's median is (time, memory, count: smaller is better)."""
    tw, af = tradewind.median, airflow.median
    if tw is None or af is None or not tradewind.ok or not airflow.ok or tw <= 0 or af <= 0:
        return None
    return tw / af if tradewind.higher_is_better else af / tw


class FigureSet:
    """Figures by key, in the order they were first added."""

    def __init__(self) -> None:
        self._figures: dict[str, Figure] = {}

    def add(
        self,
        key: str,
        label: str,
        unit: str,
        value: float | None = None,
        *,
        target: Target | None = None,
        notes: str = "",
    ) -> Figure:
        figure = self._figures.get(key)
        if figure is None:
            figure = self._figures[key] = Figure(key, label, unit, target=target, notes=notes)
        if value is not None:
            figure.values.append(value)
        if notes and not figure.notes:
            figure.notes = notes
        return figure

    def fail(
        self, key: str, label: str, unit: str, error: str, *, target: Target | None = None
    ) -> Figure:
        figure = self.add(key, label, unit, target=target)
        figure.error = error
        return figure

    def get(self, key: str) -> Figure | None:
        return self._figures.get(key)

    def __iter__(self) -> Iterator[Figure]:
        return iter(self._figures.values())

    def __len__(self) -> int:
        return len(self._figures)
