"""Listing helpers shared by services: pages, ``order_by`` and pattern filters.

These follow the conventions of Airflow's REST API, so the API layer can pass its query
parameters straight through: ``order_by`` names attributes, ``-name`` sorts descending;
``*_pattern`` is a case-insensitive substring match where ``|`` separates alternatives and
``~`` matches everything; ``*_prefix_pattern`` is a case-sensitive prefix match.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, func, or_, select, true
from sqlalchemy.orm import Session

from tradewind.exceptions import InvalidArgument

T = TypeVar("T")
SelectT = TypeVar("SelectT", bound=Select)  # any Select, whatever the rows it returns

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


@dataclasses.dataclass(frozen=True)
class Page:
    """Which slice of a listing to return: at most ``limit`` rows after skipping ``offset``."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0

    @classmethod
    def of(cls, limit: int | None, offset: int | None) -> Page:
        """Airflow's rules: no (or zero) limit means 50, more than 100 means 100."""
        if limit is not None and limit < 0:
            raise InvalidArgument(f"limit must be >= 0, got {limit}")
        if offset is not None and offset < 0:
            raise InvalidArgument(f"offset must be >= 0, got {offset}")
        chosen = DEFAULT_LIMIT if not limit else min(limit, MAX_LIMIT)
        return cls(limit=chosen, offset=offset or 0)


@dataclasses.dataclass(frozen=True)
class Range:
    """Bounds on a datetime column; any of them may be None."""

    gte: datetime | None = None
    gt: datetime | None = None
    lte: datetime | None = None
    lt: datetime | None = None

    def clauses(self, column: Any) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.gte is not None:
            found.append(column >= self.gte)
        if self.gt is not None:
            found.append(column > self.gt)
        if self.lte is not None:
            found.append(column <= self.lte)
        if self.lt is not None:
            found.append(column < self.lt)
        return found


def split_order_by(order_by: str | Sequence[str] | None) -> list[str]:
    """``order_by`` as a list of names; a comma-separated string is split too."""
    if order_by is None:
        return []
    items = [order_by] if isinstance(order_by, str) else list(order_by)
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def order_clauses(
    order_by: str | Sequence[str] | None,
    columns: Mapping[str, Any],
    *,
    default: Sequence[str],
    tie_breaker: Any | None = None,
) -> list[Any]:
    """ORDER BY clauses for ``order_by`` (names from ``columns``, ``-name`` for descending).

    An unknown name raises ``InvalidArgument`` with Airflow's message. ``tie_breaker`` (the
    primary key) is appended so pages never overlap.
    """
    names = split_order_by(order_by) or list(default)
    clauses: list[Any] = []
    for name in names:
        descending = name.startswith("-")
        attribute = name.lstrip("-+")
        column = columns.get(attribute)
        if column is None:
            raise InvalidArgument(
                f"Ordering with '{attribute}' is disallowed or the attribute does not exist on the "
                "model"
            )
        clauses.append(column.desc() if descending else column.asc())
    if tie_breaker is not None:
        clauses.append(
            tie_breaker.desc() if names and names[0].startswith("-") else tie_breaker.asc()
        )
    return clauses


def paginate(
    session: Session,
    query: Select,
    order: Sequence[Any],
    page: Page,
    *,
    whole_rows: bool = False,
    counted: Select | None = None,
    count_up_to: int | None = None,
) -> tuple[list[Any], int]:
    """One page of ``query`` and the total without paging.

    The page holds the first column of each row, or whole rows (tuples) with ``whole_rows``.
    ``counted``: a cheaper query with the same number of rows to count (without a join that
    only adds columns, say). ``count_up_to``: count no further than that many rows (the total
    is then at most ``count_up_to + 1``, which means "more"): what a count costs stays bound
    however long the history, for a page that does not need the exact number.
    """
    source = (query if counted is None else counted).order_by(None)
    if count_up_to is not None:
        source = source.limit(count_up_to + 1)
    total = session.scalar(select(func.count()).select_from(source.subquery())) or 0
    paged = query.order_by(*order).offset(page.offset).limit(page.limit)
    rows = (
        [tuple(row) for row in session.execute(paged)]
        if whole_rows
        else list(session.scalars(paged))
    )
    return rows, int(total)


def pattern(column: Any, value: str | None) -> ColumnElement[bool] | None:
    """Airflow's ``*_pattern``: case-insensitive substring, ``|`` for OR, ``~`` for all."""
    if value is None or value == "":
        return None
    terms = [term for term in value.split("|")]
    if "~" in terms:
        return true()
    clauses = [column.ilike(f"%{term}%") for term in terms if term != ""]
    return or_(*clauses) if clauses else None


def prefix(column: Any, value: str | None) -> ColumnElement[bool] | None:
    """Airflow's ``*_prefix_pattern``: case-sensitive prefix, ``|`` for OR, ``~`` for all."""
    if value is None or value == "":
        return None
    terms = value.split("|")
    if "~" in terms:
        return true()
    clauses = [column.startswith(term, autoescape=True) for term in terms if term != ""]
    return or_(*clauses) if clauses else false()


def where_all(query: SelectT, clauses: Sequence[ColumnElement[bool] | None]) -> SelectT:
    """``query`` with every clause that is not None added."""
    for clause in clauses:
        if clause is not None:
            query = query.where(clause)
    return query
