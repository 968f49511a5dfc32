"""Bearer tokens and UI sessions end when they should: a new password (CLI or UI), a deleted or
deactivated user, a role change, and signing out (a copied cookie replayed afterwards)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tests.api.conftest import PASSWORD
from tests.ui.helpers import csrf_of
from tests.ui.helpers import token as csrf_token_of
from tradewind.api.app import SESSION_COOKIE
from tradewind.cli.main import cli
from tradewind.db import engine as db_engine
from tradewind.db.models import UserSession


@pytest.fixture
def browsers(app: FastAPI) -> Iterator[list[TestClient]]:
    """Browsers made with ``browser()``: each its own cookie jar."""
    made: list[TestClient] = []
    yield made
    for each in made:
        each.close()


def browser(app: FastAPI, browsers: list[TestClient]) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    browsers.append(client)
    return client


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    form = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": form}
    )
    assert response.status_code == 303, response.text
    return client


def signed_in(client: TestClient) -> bool:
    response = client.get("/dags")
    assert response.status_code in (200, 303), response.text
    return response.status_code == 200


def new_token(client: TestClient, username: str, password: str = PASSWORD) -> str:
    response = client.post("/auth/token", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    return str(response.json()["access_token"])


def token_status(client: TestClient, token: str, path: str = "/api/v2/dags") -> int:
    return client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code


def cli_run(tradewind_env: dict[str, str], *args: str) -> None:
    result = CliRunner().invoke(cli, list(args), env=tradewind_env)
    assert result.exit_code == 0, result.output


def edit_user(
    admin: TestClient, username: str, role: str, *, active: bool = True, password: str = ""
) -> None:
    data = {
        "csrf_token": csrf_token_of(admin),
        "original": username,
        "username": username,
        "role": role,
        "password": password,
    }
    if active:
        data["active"] = "on"
    response = admin.post("/users", data=data)
    assert response.status_code == 303, response.text
    assert "saved" in admin.get("/users").text


def test_reset_password_with_the_cli_ends_tokens_and_sessions(
    app: FastAPI,
    client: TestClient,
    browsers: list[TestClient],
    tradewind_env: dict[str, str],
) -> None:
    token = new_token(client, "op")
    ui = sign_in(browser(app, browsers), "op")
    other = new_token(client, "viewer")
    assert token_status(client, token) == 200 and signed_in(ui)

    cli_run(tradewind_env, "users", "reset-password", "-u", "op", "-p", "new secret")

    assert token_status(client, token) == 401
    assert not signed_in(ui)
    assert token_status(client, other) == 200  # other users keep theirs
    assert (
        client.post("/auth/token", json={"username": "op", "password": PASSWORD}).status_code == 401
    )
    assert token_status(client, new_token(client, "op", "new secret")) == 200


def test_reset_password_in_the_ui_ends_the_users_tokens_and_sessions_but_not_the_admins(
    app: FastAPI,
    client: TestClient,
    browsers: list[TestClient],
) -> None:
    admin = sign_in(browser(app, browsers), "admin")
    admin_token = new_token(client, "admin")
    token = new_token(client, "user")
    ui = sign_in(browser(app, browsers), "user")

    edit_user(admin, "user", "User", password="changed by admin")
    assert token_status(client, token) == 401 and not signed_in(ui)
    assert signed_in(admin) and token_status(client, admin_token) == 200

    # Changing one's own password ends one's other sessions and tokens, not this browser's.
    elsewhere = sign_in(browser(app, browsers), "admin")
    edit_user(admin, "admin", "Admin", password="admin's new one")
    assert signed_in(admin)
    assert not signed_in(elsewhere) and token_status(client, admin_token) == 401
    assert token_status(client, new_token(client, "admin", "admin's new one")) == 200


@pytest.mark.parametrize("how", ["cli", "ui"])
def test_deleting_a_user_ends_tokens_and_sessions_even_for_a_new_user_of_the_same_name(
    app: FastAPI,
    client: TestClient,
    browsers: list[TestClient],
    tradewind_env: dict[str, str],
    engine: Engine,
    how: str,
) -> None:
    token = new_token(client, "viewer")
    ui = sign_in(browser(app, browsers), "viewer")
    if how == "cli":
        cli_run(tradewind_env, "users", "delete", "-u", "viewer")
    else:
        admin = sign_in(browser(app, browsers), "admin")
        assert (
            admin.post(
                "/users/viewer/delete", data={"csrf_token": csrf_token_of(admin)}
            ).status_code
            == 303
        )
        assert "deleted" in admin.get("/users").text
    assert token_status(client, token) == 401 and not signed_in(ui)
    sessions = db_engine.run_in_transaction(
        engine, lambda s: s.scalar(select(func.count()).select_from(UserSession)), readonly=True
    )
    assert sessions == (0 if how == "cli" else 1)  # only the admin's browser is left

    cli_run(tradewind_env, "users", "create", "-u", "viewer", "-p", PASSWORD, "-r", "Admin")
    assert token_status(client, token) == 401 and not signed_in(ui)


def test_a_role_change_ends_tokens_and_sessions_and_the_new_role_applies_at_once(
    app: FastAPI,
    client: TestClient,
    browsers: list[TestClient],
) -> None:
    admin = sign_in(browser(app, browsers), "admin")
    token = new_token(client, "op")
    ui = sign_in(browser(app, browsers), "op")
    assert token_status(client, token, "/api/v2/config") == 200

    edit_user(admin, "op", "Viewer")
    assert token_status(client, token, "/api/v2/config") == 401 and not signed_in(ui)
    assert token_status(client, new_token(client, "op"), "/api/v2/config") == 403

    # Saving the form without changing role or activity (say, a new email) ends nothing.
    viewer_token = new_token(client, "op")
    edit_user(admin, "op", "Viewer")
    assert token_status(client, viewer_token) == 200


def test_deactivation_ends_tokens_and_sessions_for_good(
    app: FastAPI,
    client: TestClient,
    browsers: list[TestClient],
) -> None:
    admin = sign_in(browser(app, browsers), "admin")
    token = new_token(client, "user")
    ui = sign_in(browser(app, browsers), "user")
    edit_user(admin, "user", "User", active=False)
    assert token_status(client, token) == 401 and not signed_in(ui)
    assert (
        client.post("/auth/token", json={"username": "user", "password": PASSWORD}).status_code
        == 401
    )
    edit_user(admin, "user", "User", active=True)
    assert token_status(client, token) == 401 and not signed_in(ui)
    assert token_status(client, new_token(client, "user")) == 200


def test_a_cookie_replayed_after_sign_out_signs_nobody_in(
    app: FastAPI,
    browsers: list[TestClient],
    engine: Engine,
) -> None:
    ui = sign_in(browser(app, browsers), "viewer")
    stolen = ui.cookies.get(SESSION_COOKIE)
    assert stolen and signed_in(ui)
    other_browser = sign_in(browser(app, browsers), "viewer")

    assert ui.post("/logout", data={"csrf_token": csrf_token_of(ui)}).status_code == 303
    assert not signed_in(ui)

    replay = browser(app, browsers)
    replay.cookies.set(SESSION_COOKIE, stolen)
    assert not signed_in(replay)
    assert replay.get("/api/v2/dags").status_code == 401
    assert (
        replay.get("/login").status_code == 200
    )  # the form, not a redirect to a page that refuses
    assert signed_in(other_browser)  # signing out one browser leaves the others signed in

    def sessions(session: object) -> int:
        return int(session.scalar(select(func.count()).select_from(UserSession)))  # type: ignore[attr-defined]

    assert db_engine.run_in_transaction(engine, sessions, readonly=True) == 1


def test_tokens_from_before_session_stamps_and_forged_stamps_are_refused(
    app: FastAPI, client: TestClient
) -> None:
    signer = app.state.tokens
    legacy = signer._serializer.dumps({"sub": "viewer"})  # what tokens held before stamps
    assert token_status(client, legacy) == 401
    assert token_status(client, signer.issue("viewer", "0" * 32)) == 401
