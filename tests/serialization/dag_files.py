"""The DAG files the serialization tests use, imported once with the real DAG file importer."""

from __future__ import annotations

import functools
from pathlib import Path

from tradewind.dag_processing.importer import import_dag_file
from tradewind.sdk.dag import DAG

HERE = Path(__file__).parent
DAG_FILES = sorted((HERE / "dags").glob("*.py"))
EXAMPLE_FILES = sorted((HERE.parents[1] / "examples").glob("*.py"))


def import_dags(path: Path) -> list[DAG]:
    result = import_dag_file(path)
    if result.problems:
        raise AssertionError(f"{path} did not import: {result.problems}")
    return result.dags


@functools.cache
def all_dags() -> dict[str, DAG]:
    """Every DAG of ``dags/*.py``, by id."""
    return {dag.dag_id: dag for path in DAG_FILES for dag in import_dags(path)}


def all_dag_ids() -> list[str]:
    return list(all_dags())
