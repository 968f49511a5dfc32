"""Datetimes in query parameters and bodies are ISO 8601 text: ``?updated_at_lte=0.5`` is a 422
naming the parameter, not a date in 1970. Every datetime query parameter of the OpenAPI
document is tried, so a new one is covered without being listed here."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

NOT_DATES = ["0.5", "1700000000", "yesterday"]


def _datetime_query_params(document: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                kinds = [schema, *schema.get("anyOf", [])]
                if parameter["in"] == "query" and any(
                    k.get("format") == "date-time" for k in kinds
                ):
                    assert method == "get", (path, method)
                    found.append((path, parameter["name"]))
    return found


def _url(path: str) -> str:
    return re.sub(
        r"\{backfill_id\}|\{[a-z_]*number\}|\{[a-z_]*_id\b[^}]*\}",
        lambda m: "1" if "number" in m[0] or "backfill" in m[0] else "~",
        path,
    )


def test_every_datetime_query_parameter_refuses_numbers(
    client: TestClient, admin: dict[str, str]
) -> None:
    params = _datetime_query_params(client.get("/api/v2/openapi.json").json())
    names = {name for _, name in params}
    assert {
        "updated_at_lte",
        "run_after_gte",
        "logical_date_lt",
        "start_date_gt",
        "end_date_lte",
        "before",
        "after",
    } <= names, names
    for path, name in params:
        url = _url(path)
        for value in NOT_DATES:
            answer = client.get(url, params={name: value}, headers=admin)
            assert answer.status_code == 422, (url, name, value, answer.text)
            [error] = answer.json()["detail"]
            assert error["loc"] == ["query", name], error
            if value != "yesterday":
                assert "expected an ISO 8601 date-time" in error["msg"], error
        accepted = client.get(url, params={name: "2024-01-01T00:00:00+00:00"}, headers=admin)
        assert accepted.status_code in (200, 404), (url, name, accepted.text)


def test_dates_still_filter(client: TestClient, admin: dict[str, str]) -> None:
    client.post(
        "/api/v2/dags/api_example/dagRuns",
        json={"dag_run_id": "r1", "logical_date": "2024-01-05T00:00:00Z"},
        headers=admin,
    )
    url = "/api/v2/dags/api_example/dagRuns"
    for value, count in [
        ("2024-01-04T00:00:00Z", 1),
        ("2024-01-06T00:00:00+00:00", 0),
        ("2024-01-04", 1),
        ("2024-01-05T09:00:00+09:00", 1),
    ]:
        answer = client.get(url, params={"logical_date_gte": value}, headers=admin)
        assert answer.status_code == 200 and answer.json()["total_entries"] == count, (
            value,
            answer.text,
        )


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v2/dags/api_example/dagRuns", {"logical_date": 0.5}, "logical_date"),
        ("/api/v2/dags/api_example/dagRuns", {"logical_date": "0.5"}, "logical_date"),
        ("/api/v2/dags/api_example/dagRuns", {"run_after": 1700000000}, "run_after"),
        ("/api/v2/dags/~/dagRuns/list", {"run_after_gte": 0.5}, "run_after_gte"),
        ("/api/v2/dags/api_example/clearTaskInstances", {"start_date": "1700000000"}, "start_date"),
        (
            "/api/v2/backfills",
            {"dag_id": "api_example", "from_date": 0.5, "to_date": "2024-01-02T00:00:00Z"},
            "from_date",
        ),
        (
            "/api/v2/backfills/dry_run",
            {"dag_id": "api_example", "from_date": "2024-01-01T00:00:00Z", "to_date": 2e9},
            "to_date",
        ),
    ],
)
def test_datetimes_in_bodies_refuse_numbers(
    client: TestClient,
    admin: dict[str, str],
    url: str,
    body: dict[str, Any],
    field: str,
) -> None:
    answer = client.post(url, json=body, headers=admin)
    assert answer.status_code == 422, answer.text
    [error] = [e for e in answer.json()["detail"] if e["loc"][-1] == field]
    assert error["loc"] == ["body", field] and "expected an ISO 8601 date-time" in error["msg"], (
        error
    )
