"""Schemathesis over ``/api/v2/openapi.json`` with an Admin token: generated requests to every
operation never get a server error nor an answer the document does not declare (status,
content type, headers, body schema). Few examples per operation keep it to a minute or two;
one app (on SQLite, with the DAGs of ``tests/api/dags`` and two runs) serves them all."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import sqlalchemy
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

from tradewind import config
from tradewind.api.app import create_app
from tradewind.dag_processing.manager import DagProcessor
from tradewind.db import engine as db_engine
from tradewind.db.models import User
from tradewind.scheduler import run_lifecycle
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.sdk import timezone
from tradewind.services import dag_runs

EXAMPLES_PER_OPERATION = 20
DAGS = Path(__file__).parent / "dags"


def _document() -> dict[str, Any]:
    """The OpenAPI document, from an app that is never sent a request (every app's document is
    the same; the requests go to ``fuzz_app``)."""
    settings_ = config.load({"TRADEWIND_HOME": "/nonexistent"}).with_values(
        api__secret_key="document only"
    )
    return create_app(settings_, engine=sqlalchemy.create_engine("sqlite://")).openapi()


#: Hypothesis' fuzzing and the examples of the document; the coverage phase (every boundary
#: value of every parameter) alone would take several minutes.
FUZZ_CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
schema = schemathesis.openapi.from_dict(_document(), config=FUZZ_CONFIG)


@pytest.fixture(scope="module")
def fuzz_app(
    tmp_path_factory: pytest.TempPathFactory,
    _sqlite_template: Path,
    password_hash: str,
) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    """The app, and the headers of its Admin."""
    home = tmp_path_factory.mktemp("fuzz")
    shutil.copyfile(_sqlite_template, home / "tradewind.db")
    shutil.copytree(DAGS, home / "dags")
    url = f"sqlite:///{home / 'tradewind.db'}"
    settings_ = config.load(
        {
            "TRADEWIND_HOME": str(home),
            "TRADEWIND__DATABASE__URL": url,
            "TRADEWIND__CORE__DAGS_FOLDER": str(home / "dags"),
        }
    )
    engine = db_engine.create_engine(url, busy_timeout_ms=5000)
    DagProcessor(settings_, engine).run_once()

    def fill(session: Any) -> str:
        admin = User(username="admin", password_hash=password_hash, role="Admin", active=True)
        session.add(admin)
        for run_id in ("r1", "r2"):
            dag_runs.trigger(session, "api_example", run_id=run_id, now=timezone.utcnow())
        run_lifecycle.start_queued_runs(session, DagVersionCache(), timezone.utcnow())
        session.flush()
        return str(admin.session_stamp)

    stamp = db_engine.run_in_transaction(engine, fill)
    app = create_app(settings_, engine)
    try:
        yield app, {"Authorization": f"Bearer {app.state.tokens.issue('admin', stamp)}"}
    finally:
        engine.dispose()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_answers_match_the_document(case: Any, fuzz_app: tuple[FastAPI, dict[str, str]]) -> None:
    app, admin = fuzz_app
    case.call_and_validate(
        app=app,
        headers=admin,
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_headers_conformance,
            checks.response_schema_conformance,
        ],
    )
