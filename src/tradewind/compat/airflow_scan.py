"""Every ``airflow`` import of a DAG file that Tradewind cannot satisfy, read from its source.

Importing a file stops at its first missing name; ``tradewind airflow check`` wants all of
them at once, to say what a folder needs. The file's ``import`` and ``from ... import``
statements (anywhere in it, functions included) are checked against ``airflow_names.MODULES``
without running anything.
"""

from __future__ import annotations

import ast
import dataclasses

from tradewind.compat.airflow_import import ROOT
from tradewind.compat.airflow_names import MODULES


@dataclasses.dataclass(frozen=True)
class Blocker:
    """One construct the file asks for that Tradewind does not provide."""

    construct: str
    line: int

    def describe(self) -> str:
        return f"line {self.line}: {self.construct} is not available in Tradewind"


def blockers(source: str, filename: str = "<dag file>") -> list[Blocker]:
    """The file's unsatisfiable ``airflow`` imports, in line order (none when the source does
    not parse: the import itself will say why)."""
    try:
        tree = ast.parse(source, filename)
    except SyntaxError:
        return []
    found: list[Blocker] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                missing = _missing_module(alias.name)
                if missing:
                    found.append(Blocker(missing, node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            missing = _missing_module(node.module)
            if missing:
                found.append(Blocker(missing, node.lineno))
                continue
            if not _is_airflow(node.module):
                continue
            names = MODULES[node.module]
            for alias in node.names:
                construct = f"{node.module}.{alias.name}"
                if alias.name != "*" and alias.name not in names and construct not in MODULES:
                    found.append(Blocker(construct, node.lineno))
    return sorted(set(found), key=lambda blocker: (blocker.line, blocker.construct))


def _is_airflow(module: str) -> bool:
    return module == ROOT or module.startswith(ROOT + ".")


def _missing_module(module: str) -> str | None:
    """The first module of ``module``'s chain that Tradewind lacks (``airflow.providers.amazon``
    for ``airflow.providers.amazon.aws.hooks.s3``), or None."""
    if not _is_airflow(module):
        return None
    parts = module.split(".")
    for end in range(1, len(parts) + 1):
        name = ".".join(parts[:end])
        if name not in MODULES:
            return name
    return None
