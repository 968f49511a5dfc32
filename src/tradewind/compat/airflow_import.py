"""``import airflow`` in a DAG file resolves to Tradewind when Apache Airflow is not installed.

An Airflow user's DAG files say ``from airflow.sdk import dag, task`` or ``from airflow import
DAG``. ``install()`` puts a finder at the end of ``sys.meta_path``: it is asked only after
every other finder found no ``airflow`` module, so an installed Airflow is never shadowed.
Each module it makes is built from ``airflow_names.MODULES``; a name is looked up in Tradewind
the first time a DAG file asks for it. A module or name Tradewind does not have fails the import
with a message naming it (the DAG file's import error then shows file and line).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from typing import Any

from tradewind.compat.airflow_names import LEGACY_MODULES, MODULES
from tradewind.sdk import legacy

ROOT = "airflow"


class NotAvailable(ImportError):
    """An Airflow module or name that Tradewind does not provide."""


class _AirflowFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != ROOT and not fullname.startswith(ROOT + "."):
            return None
        if fullname not in MODULES:
            raise NotAvailable(f"{fullname} is not available in Tradewind", name=fullname)
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _AliasModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__path__ = []  # a package: its submodules come from this finder too
        instead = LEGACY_MODULES.get(module.__name__)
        if instead is not None:
            legacy.warn_once(f"import {module.__name__}", instead, stacklevel=4)


class _AliasModule(types.ModuleType):
    """Names resolved from Tradewind on first use, then kept."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        target = MODULES.get(self.__name__, {}).get(name)
        if target is None:
            submodule = f"{self.__name__}.{name}"
            if submodule in MODULES:
                return importlib.import_module(submodule)
            raise NotAvailable(f"{submodule} is not available in Tradewind", name=self.__name__)
        module_name, _, attribute = target.partition(":")
        value = getattr(importlib.import_module(module_name), attribute)
        setattr(self, name, value)
        return value

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(MODULES.get(self.__name__, {})))


_FINDER = _AirflowFinder()


def install() -> None:
    """Make ``airflow`` importable (once per process; last among the finders)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)
