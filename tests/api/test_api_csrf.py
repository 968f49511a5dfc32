"""The REST API takes the UI's session cookie for reads, and for changes only with the session's
CSRF token in ``X-CSRF-Token``: another site can make a browser send the cookie, not the token."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import PASSWORD
from tests.ui.helpers import csrf_of
from tests.ui.helpers import token as csrf_token_of


@pytest.fixture
def op_browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as browser:
        form = csrf_of(browser.get("/login").text)
        signed_in = browser.post(
            "/login", data={"username": "op", "password": PASSWORD, "csrf_token": form}
        )
        assert signed_in.status_code == 303
        yield browser


CHANGES = [
    ("POST", "/api/v2/variables", {"key": "k", "value": "v"}),
    ("PATCH", "/api/v2/dags/api_example?update_mask=is_paused", {"is_paused": False}),
    ("POST", "/api/v2/pools", {"name": "p", "slots": 1}),
    ("DELETE", "/api/v2/variables/k", None),
]


@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
def test_a_change_signed_in_by_the_cookie_alone_is_refused(
    op_browser: TestClient,
    method: str,
    path: str,
    body: dict | None,
) -> None:
    for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": ""}):
        response = op_browser.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (headers, response.text)
        assert "X-CSRF-Token" in response.json()["detail"]
    assert op_browser.get("/api/v2/variables").json()["total_entries"] == 0


def test_the_cookie_with_the_sessions_token_may_change_and_reads_need_none(
    op_browser: TestClient,
) -> None:
    assert op_browser.get("/api/v2/dags").status_code == 200
    headers = {"X-CSRF-Token": csrf_token_of(op_browser)}
    assert (
        op_browser.post(
            "/api/v2/variables", json={"key": "k", "value": "v"}, headers=headers
        ).status_code
        == 201
    )
    assert op_browser.delete("/api/v2/variables/k", headers=headers).status_code == 204


def test_bearer_tokens_need_no_csrf_token(
    client: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    response = client.post("/api/v2/variables", json={"key": "k", "value": "v"}, headers=auth("Op"))
    assert response.status_code == 201


def test_a_bearer_token_is_judged_alone_even_beside_a_cookie(op_browser: TestClient) -> None:
    """A wrong token is not rescued by a valid cookie (no silent fallback to the cookie)."""
    response = op_browser.post(
        "/api/v2/variables",
        json={"key": "k", "value": "v"},
        headers={"Authorization": "Bearer nonsense", "X-CSRF-Token": csrf_token_of(op_browser)},
    )
    assert response.status_code == 401
