"""What CLI commands print: rows as ``table``, ``json`` or ``plain``, and user errors.

Generic on purpose: any command that lists things uses ``output_option`` and ``echo_rows``,
and wraps its body with ``user_errors`` so a ``TradewindError`` becomes one line on stderr
and exit code 1 instead of a traceback.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

import click

from tradewind.exceptions import TradewindError

FORMATS = ("table", "json", "plain")

P = ParamSpec("P")
R = TypeVar("R")


def render(
    rows: Sequence[Mapping[str, Any]], fmt: str = "table", columns: Sequence[str] | None = None
) -> str:
    """``rows`` as text. ``columns`` picks and orders columns (default: keys of the first row).

    ``json`` is a list of objects with values kept typed; ``table`` has a header and a rule;
    ``plain`` is the same without the rule and separators, for scripts.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}")
    columns = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    if fmt == "json":
        picked = [{c: row.get(c) for c in columns} for row in rows]
        return json.dumps(picked, indent=2, default=_json_default, ensure_ascii=False)
    if not rows:
        return "No data found"
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    if fmt == "plain":
        lines = [columns, *cells]
        return "\n".join(
            "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
            for line in lines
        )
    header = " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
    rule = "=+=".join("=" * w for w in widths)
    body = [
        " | ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
    return "\n".join([header, rule, *body])


def echo_rows(
    rows: Sequence[Mapping[str, Any]], fmt: str = "table", columns: Sequence[str] | None = None
) -> None:
    """Print ``render(rows, fmt, columns)`` to stdout."""
    click.echo(render(rows, fmt, columns))


def as_row(value: Any) -> dict[str, Any]:
    """A dataclass instance (or mapping) as a row for ``render``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return dict(value)


def output_option(default: str = "table") -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The ``-o/--output [table|json|plain]`` option, passed as ``output``."""
    return click.option(
        "-o",
        "--output",
        type=click.Choice(FORMATS),
        default=default,
        show_default=True,
        help="Output format.",
    )


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn ``TradewindError`` into a one-line ``Error: ...`` on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except TradewindError as exc:
            raise click.ClickException(_one_line(str(exc))) from exc

    return wrapper


def _one_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return " ".join(lines) if lines else "failed"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)
