from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tradewind.config import Settings
from tradewind.dag_processing.manager import DagProcessor


@pytest.fixture
def dags_folder(settings: Settings) -> Path:
    """The (empty) DAG folder of ``settings``."""
    settings.dags_folder.mkdir(parents=True)
    return settings.dags_folder.resolve()


@pytest.fixture
def make_processor(
    settings: Settings, engine: Engine, dags_folder: Path
) -> Callable[..., DagProcessor]:
    """``make_processor(**overrides)``: a DagProcessor on the test's folder and database;
    overrides are settings such as ``dag_processor__file_timeout=1.0``."""

    def make(**overrides: Any) -> DagProcessor:
        return DagProcessor(settings.with_values(**overrides) if overrides else settings, engine)

    return make
