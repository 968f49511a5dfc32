"""Dependency order from edges alone: upstream first, definition order among equals."""

from __future__ import annotations

import pytest

from tradewind.exceptions import CycleError, DagDefinitionError
from tradewind.sdk.ordering import topological_order


@pytest.mark.parametrize(
    ("downstream", "order"),
    [
        ({}, []),
        ({"a": []}, ["a"]),
        # Defined last, needed first.
        (
            {"load": [], "transform": ["load"], "extract": ["transform"]},
            ["extract", "transform", "load"],
        ),
        # Independent tasks keep their definition order, whatever the edges' order.
        ({"b": [], "a": [], "c": []}, ["b", "a", "c"]),
        # A fan-out's branches go in definition order, not in edge or name order.
        ({"start": ["z", "y"], "y": ["end"], "z": ["end"], "end": []}, ["start", "y", "z", "end"]),
        # A task freed later still comes after an earlier-defined ready one.
        ({"a": ["c"], "b": [], "c": []}, ["a", "b", "c"]),
    ],
)
def test_order(downstream: dict[str, list[str]], order: list[str]) -> None:
    assert topological_order(downstream) == order


def test_a_cycle_is_refused() -> None:
    with pytest.raises(CycleError, match=r"\['b', 'c'\]"):
        topological_order({"a": ["b"], "b": ["c"], "c": ["b"]})


def test_an_edge_to_an_unknown_task_is_refused() -> None:
    with pytest.raises(DagDefinitionError, match="'a' points to unknown task 'x'"):
        topological_order({"a": ["x"]})
