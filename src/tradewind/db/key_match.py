"""Rows picked by a list of composite keys, in a form both backends answer from an index.

``tuple_(dag_id, run_id).in_(keys)`` is what one would write, but SQLite plans a row-value
list of more than one row as a scan of the whole table: its cost then grows with the history
the table holds (about 150 ms per million task instances) instead of with the keys asked for.
``keys_in`` writes the same condition as ``(a = ? AND b IN (...)) OR (a = ? AND ...)``, one term
per distinct prefix, which SQLite and PostgreSQL both answer with one index search per term.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_

#: Keys per statement: SQLite nests an OR of n terms n deep, and refuses depths over 1,000.
CHUNK = 200


def keys_in(columns: Sequence[Any], keys: Iterable[Sequence[Any]]) -> ColumnElement[bool]:
    """True for rows whose ``columns`` equal one of ``keys`` (never true for no keys)."""
    *leading, last = columns
    grouped: dict[tuple[Any, ...], set[Any]] = defaultdict(set)
    for key in keys:
        if len(key) != len(columns):
            raise ValueError(f"key {key!r} does not have {len(columns)} values")
        grouped[tuple(key[:-1])].add(key[-1])
    terms = [
        and_(
            *(column == value for column, value in zip(leading, prefix, strict=True)),
            last.in_(sorted(values)),
        )
        for prefix, values in sorted(grouped.items())
    ]
    return or_(*terms) if terms else false()


def chunks(keys: Iterable[Sequence[Any]], size: int = CHUNK) -> Iterator[list[tuple[Any, ...]]]:
    """``keys`` sorted and cut in lists of at most ``size``, one statement each."""
    ordered = sorted(set(map(tuple, keys)))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]
