"""Signing in and out, the pages that need it, CSRF on forms, and the time zone switch."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tradewind.api.sign_in import FAILED_LOGIN_DELAY

from .helpers import PASSWORD, csrf_of, sign_in, token

PAGES = [
    "/",
    "/dags",
    "/runs",
    "/variables",
    "/connections",
    "/pools",
    "/users",
    "/audit-log",
    "/dags/ui_plain",
    "/dags/ui_plain/graph",
    "/dags/ui_plain/code",
    "/dags/ui_plain/calendar",
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_redirect_to_login_when_signed_out(client: TestClient, path: str) -> None:
    response = client.get(path)
    if path == "/":
        assert response.headers["location"] == "/dags"
        response = client.get("/dags")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_json_endpoints_answer_401_when_signed_out(client: TestClient) -> None:
    assert client.get("/dags/ui_plain/grid.json").status_code == 401


def test_login_health_and_static_files_are_open(client: TestClient) -> None:
    assert client.get("/login").status_code == 200
    assert client.get("/api/v2/monitor/health").status_code == 200
    assert client.get("/static/ui.css").status_code == 200


def test_sign_in_then_sign_out(client: TestClient, make_user: Callable[[str], str]) -> None:
    name = make_user("Viewer")
    page = client.get("/login?next=/variables")
    response = client.post(
        "/login",
        data={
            "username": name,
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "/variables",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/variables"
    assert "tradewind_session" in response.cookies or client.cookies.get("tradewind_session")
    listing = client.get("/dags")
    assert listing.status_code == 200
    assert f"<b>{name}</b>" in listing.text

    response = client.post("/logout", data={"csrf_token": token(client)})
    assert response.status_code == 303
    assert client.get("/dags").status_code == 303


def test_pages_are_not_cached_or_framed(client: TestClient, login: Callable[[str], str]) -> None:
    login("Viewer")
    headers = client.get("/dags").headers
    assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"


def test_wrong_password_is_refused_slowly(
    client: TestClient, make_user: Callable[[str], str]
) -> None:
    name = make_user("Viewer")
    form = csrf_of(client.get("/login").text)
    started = time.monotonic()
    response = client.post(
        "/login", data={"username": name, "password": "nope", "csrf_token": form}
    )
    assert time.monotonic() - started >= FAILED_LOGIN_DELAY
    assert response.status_code == 401
    assert "Invalid username or password" in response.text
    assert client.get("/dags").status_code == 303


def test_login_form_without_csrf_token_is_refused(
    client: TestClient, make_user: Callable[[str], str]
) -> None:
    name = make_user("Admin")
    client.get("/login")
    response = client.post(
        "/login", data={"username": name, "password": PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 400
    assert "expired" in response.text
    assert client.get("/dags").status_code == 303


def test_logout_needs_the_csrf_token(client: TestClient, make_user: Callable[[str], str]) -> None:
    sign_in(client, make_user("Viewer"))
    response = client.post("/logout", data={})
    assert response.status_code == 403
    assert client.get("/dags").status_code == 200


def test_next_never_leaves_the_site(client: TestClient, make_user: Callable[[str], str]) -> None:
    name = make_user("Viewer")
    form = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={
            "username": name,
            "password": PASSWORD,
            "csrf_token": form,
            "next": "//evil.example/steal",
        },
    )
    assert response.headers["location"] == "/"


def test_inactive_user_cannot_use_an_old_session(
    client: TestClient, login: Callable[[str], str], engine
) -> None:
    login("Viewer")
    with engine.begin() as conn:
        conn.exec_driver_sql('UPDATE "user" SET active = false')
    assert client.get("/dags").status_code == 303


def test_times_show_the_configured_zone_and_the_switch_changes_it(
    client: TestClient, login: Callable[[str], str]
) -> None:
    csrf = login("Viewer")
    page = client.get("/dags").text
    assert "Asia/Seoul (UTC+09:00)" in page
    response = client.post(
        "/timezone", data={"zone": "Europe/Paris", "next": "/dags", "csrf_token": csrf}
    )
    assert response.status_code == 303
    page = client.get("/dags").text
    assert "times in Europe/Paris" in page
    client.post("/timezone", data={"zone": "Not/AZone", "next": "/dags", "csrf_token": csrf})
    assert "Unknown time zone" in client.get("/dags").text


def test_timezone_switch_needs_csrf(client: TestClient, login: Callable[[str], str]) -> None:
    login("Viewer")
    assert client.post("/timezone", data={"zone": "UTC", "next": "/dags"}).status_code == 403
