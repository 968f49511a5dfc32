"""Serialization sits on the SDK: reading a stored DAG needs no database code."""

from __future__ import annotations

import subprocess
import sys

_CHECK = """
import sys
import tradewind.serialization
from tradewind.serialization import deserialize_dag
assert callable(deserialize_dag)
heavy = sorted(
    name for name in sys.modules if name.split(".")[0] in {"sqlalchemy", "alembic", "psycopg"}
)
print(",".join(heavy))
"""


def test_importing_serialization_does_not_import_sqlalchemy() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _CHECK], capture_output=True, text=True, timeout=60, check=True
    )
    assert completed.stdout.strip() == ""
