"""Load a DAG from the source text stored in a dag_version, not from the file on disk.

A run is pinned to the DAG version current when it was created; its task processes execute
that version's source, so editing a file never changes what a running run executes. The
file's folder is still on ``sys.path``, so helper modules beside it import as usual.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from pathlib import Path

from tradewind.compat import airflow_import
from tradewind.dag_processing.importer import module_name_for
from tradewind.exceptions import DagFileImportError, DagNotFound
from tradewind.sdk import definition_context
from tradewind.sdk.dag import DAG


def load_dag_from_source(
    source: str, fileloc: str, dag_id: str, *, sys_path: Sequence[str] = ()
) -> DAG:
    """Execute ``source`` as if it were the file ``fileloc`` and return DAG ``dag_id``.

    ``sys_path``: more folders to import from after the file's own (the DAG folder's root,
    as for the DAG processor; an extracted bundle's root on a worker).
    """
    path = Path(fileloc)
    airflow_import.install()
    for folder in reversed([str(path.parent), *sys_path]):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    definition_context.take_created_dags()
    definition_context.take_orphans()
    name = module_name_for(path)
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    try:
        code = compile(source, str(path), "exec")
        exec(code, module.__dict__)
    except Exception as exc:
        raise DagFileImportError(f"cannot load {fileloc}: {type(exc).__name__}: {exc}") from exc
    created = definition_context.take_created_dags()
    definition_context.take_orphans()
    for dag in created:
        if dag.dag_id == dag_id:
            return dag
    raise DagNotFound(f"DAG {dag_id!r} is not defined by the stored source of {fileloc}")
