"""The OpenAPI document declares the error answers of every operation in Airflow's shape
(``HTTPExceptionResponse``: ``{"detail": ...}``), not only 200 and 422."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

ERROR_REF = {"$ref": "#/components/schemas/HTTPExceptionResponse"}


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    return dict(client.get("/api/v2/openapi.json").json())


def _operation(document: dict[str, Any], operation_id: str) -> dict[str, Any]:
    if operation_id == "create_token":  # outside /api/v2, as in Airflow
        return dict(document["paths"]["/auth/token"]["post"])
    for operations in document["paths"].values():
        for operation in operations.values():
            if operation["operationId"] == operation_id:
                return dict(operation)
    raise AssertionError(f"no operation {operation_id}")


def test_error_shape_is_airflows(document: dict[str, Any]) -> None:
    shape = document["components"]["schemas"]["HTTPExceptionResponse"]
    assert shape["required"] == ["detail"]
    assert {kind.get("type") for kind in shape["properties"]["detail"]["anyOf"]} == {
        "string",
        "object",
    }


@pytest.mark.parametrize(
    ("operation_id", "statuses"),
    [
        ("get_dags", {"200", "400", "401", "403", "422"}),
        ("get_dag", {"200", "400", "401", "403", "404", "422"}),
        ("post_variable", {"201", "400", "401", "403", "409", "413", "422"}),
        ("patch_dag_run", {"200", "400", "401", "403", "404", "409", "413", "422"}),
        ("delete_pool", {"204", "400", "401", "403", "404", "409", "422"}),
        ("create_backfill", {"200", "400", "401", "403", "404", "409", "413", "422"}),
        ("get_config", {"200", "400", "401", "403", "404", "422"}),
        ("get_health", {"200"}),
        ("create_token", {"201", "400", "401", "413", "422"}),
    ],
)
def test_operations_declare_their_errors(
    document: dict[str, Any], operation_id: str, statuses: set[str]
) -> None:
    responses = _operation(document, operation_id)["responses"]
    assert set(responses) == statuses
    for status, answer in responses.items():
        if status.startswith("4") and status != "422":
            assert answer["content"] == {"application/json": {"schema": ERROR_REF}}, (
                status,
                answer,
            )


def test_no_operation_declares_only_success_and_422(document: dict[str, Any]) -> None:
    bare = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if set(operation["responses"]) - {"200", "201", "204", "422"} == set()
        and operation["operationId"] not in ("get_health", "get_version")
    ]
    assert not bare, bare
    signed_in = [
        op
        for path, operations in document["paths"].items()
        for op in operations.values()
        if op["operationId"] not in ("get_health", "get_version") and path != "/auth/token"
    ]
    assert len(signed_in) >= 60
    assert all({"401", "403"} <= set(op["responses"]) for op in signed_in)
