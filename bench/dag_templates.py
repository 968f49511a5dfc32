"""The workload DAG files, from the templates in ``bench/dags``, for either orchestrator.

The same file text serves both: only the import lines differ (``tradewind`` or Airflow 3's
``airflow.sdk`` and standard provider), so the two run exactly the same graph.
"""

from __future__ import annotations

import dataclasses
import string
from pathlib import Path

TEMPLATES = Path(__file__).parent / "dags"

IMPORTS = {
    "tradewind": "from tradewind import DAG, BashOperator, task",
    "airflow": "from airflow.sdk import DAG, task\n"
    "from airflow.providers.standard.operators.bash import BashOperator",
}


@dataclasses.dataclass(frozen=True)
class DagFile:
    """One DAG file to write: ``template`` (chain, fanout, bash) with ``n`` tasks."""

    workload: str
    dag_id: str
    template: str
    n: int

    def render(self, flavour: str) -> str:
        text = (TEMPLATES / f"{self.template}.py.tmpl").read_text(encoding="utf-8")
        return string.Template(text).substitute(
            imports=IMPORTS[flavour], dag_id=self.dag_id, n=self.n, workload=self.workload
        )

    def write(self, folder: Path, flavour: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.dag_id}.py"
        path.write_text(self.render(flavour), encoding="utf-8")
        return path
