"""Every operation of the OpenAPI document, sent as every role and as nobody, answers as the
permission table (``api/permissions.py``, Airflow's roles) says: 401 without credentials, 403
to a role that lacks the action, anything but 401/403 to a role that has it. A new route
without a permission check, or missing from the table, fails here."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tradewind.api import permissions, route_table

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

ROLES = ("Viewer", "User", "Op", "Admin")
#: A value for each path parameter that names something the fixtures made.
PATH_VALUES = {
    "dag_id": "api_example",
    "dag_run_id": "r1",
    "task_id": "load",
    "map_index": "0",
    "try_number": "1",
    "task_try_number": "1",
    "version_number": "1",
    "variable_key": "k",
    "connection_id": "c",
    "pool_name": "default_pool",
    "import_error_id": "1",
    "event_log_id": "1",
    "backfill_id": "1",
    "section": "core",
    "option": "parallelism",
    "xcom_key": "return_value",
}


def _operations(app: FastAPI, document: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(name of the handler, method, URL, takes a body) of every operation of the document."""
    names = {
        (method, route.path_format): route.name
        for route in route_table.api_routes(app)
        for method in route.methods
    }
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            found.append(
                (
                    names[(method.upper(), path)],
                    method.upper(),
                    _url(path),
                    "requestBody" in operation,
                )
            )
    return found


def _url(path: str) -> str:
    """``path`` with a value from ``PATH_VALUES`` in each of its parameters."""

    def value(match: re.Match[str]) -> str:
        name = match[1]
        assert name in PATH_VALUES, (
            f"{path}: give the path parameter {name!r} a value in PATH_VALUES"
        )
        return PATH_VALUES[name]

    return re.sub(r"\{(\w+)\}", value, path)


def test_every_operation_is_in_the_permission_table(app: FastAPI, client: TestClient) -> None:
    operations = {op for op, *_ in _operations(app, client.get("/api/v2/openapi.json").json())}
    missing = sorted(operations - set(permissions.OPERATION_ACTIONS))
    assert not missing, (
        f"add these operations to OPERATION_ACTIONS in api/permissions.py: {missing}"
    )
    stale = sorted(set(permissions.OPERATION_ACTIONS) - operations)
    assert not stale, f"OPERATION_ACTIONS lists operations the API does not have: {stale}"


def test_each_role_gets_what_airflows_roles_allow(
    app: FastAPI,
    client: TestClient,
    auth: Callable[[str], dict[str, str]],
    make_run: Callable[..., str],
) -> None:
    make_run(run_id="r1")
    operations = _operations(app, client.get("/api/v2/openapi.json").json())
    assert len(operations) >= 60
    wrong = []
    # Reads first, so that a change (a deleted DAG, say) cannot turn a later read into a 404:
    # not that it would matter for 401 and 403, which are decided before the route runs.
    for operation_id, method, url, has_body in sorted(operations, key=lambda o: o[1] != "GET"):
        if operation_id not in permissions.OPERATION_ACTIONS:
            wrong.append(
                f"{method} {url}: {operation_id} is not in OPERATION_ACTIONS (api/permissions.py)"
            )
            continue
        action = permissions.OPERATION_ACTIONS[operation_id]
        body = {} if has_body else None
        for role in (None, *ROLES):
            headers = auth(role) if role else {}
            status = client.request(method, url, json=body, headers=headers).status_code
            if action is None:
                expected = "not 401/403"
                ok = status not in (401, 403)
            elif role is None:
                expected, ok = "401", status == 401
            elif permissions.allowed(role, action):
                expected, ok = "not 401/403", status not in (401, 403)
            else:
                expected, ok = "403", status == 403
            if not ok:
                wrong.append(
                    f"{method} {url} ({operation_id}, needs {action}) as {role or 'nobody'}: "
                    f"{status}, expected {expected}"
                )
    assert not wrong, "\n".join(wrong)
