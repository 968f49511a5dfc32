"""The executors ``[core] executor`` may name, and building the one it names.

This is the one list of accepted executors: the scheduler's entry points build their
executor here and refuse an unknown name before they start anything. Names are matched
case-insensitively, and Airflow's class-name spelling (``LocalExecutor``) means the same as
the short name (``local``), so an Airflow deployment's ``AIRFLOW__CORE__EXECUTOR`` value
carries over.
"""

from __future__ import annotations

from collections.abc import Callable

from tradewind.config import Settings
from tradewind.exceptions import ConfigError
from tradewind.executors.base import BaseExecutor
from tradewind.executors.launchers import LauncherPool
from tradewind.executors.local import LocalExecutor


def _local(settings: Settings) -> BaseExecutor:
    idle = float(settings.get("core", "launcher_idle_timeout"))
    return LocalExecutor(
        int(settings.get("core", "parallelism")), launchers=LauncherPool(idle_timeout=idle)
    )


def _celery(settings: Settings) -> BaseExecutor:
    # Imported only when chosen: celery is an extra the core install does without.
    try:
        from tradewind.executors import celery_executor
    except ImportError as exc:
        raise ConfigError(
            f"[core] executor celery needs the celery extra (pip install 'tradewind[celery]'): "
            f"{exc}"
        ) from exc
    return celery_executor.CeleryExecutor(settings)


#: Short name -> factory; the short name is what ``executor_name`` returns.
EXECUTORS: dict[str, Callable[[Settings], BaseExecutor]] = {"local": _local, "celery": _celery}


def _spellings(name: str) -> tuple[str, str]:
    return name, f"{name}executor"


def executor_name(value: object) -> str:
    """The short name of the executor ``value`` names, or ``ConfigError`` saying what is
    accepted."""
    wanted = str(value).strip().lower()
    for name in EXECUTORS:
        if wanted in _spellings(name):
            return name
    accepted = ", ".join(f"{name} ({name.capitalize()}Executor)" for name in EXECUTORS)
    raise ConfigError(
        f"[core] executor: unknown executor {value!r} (TRADEWIND__CORE__EXECUTOR); "
        f"accepted: {accepted}"
    )


def create_executor(settings: Settings) -> BaseExecutor:
    """The executor ``[core] executor`` names, built from ``settings``."""
    return EXECUTORS[executor_name(settings.get("core", "executor"))](settings)
