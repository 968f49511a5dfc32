"""Variables, connections, pools, users and the audit log pages."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tradewind import config
from tradewind.db import engine as db_engine
from tradewind.services import connections, variables
from tradewind.services.secrets import SecretCipher


def test_variables_crud_with_secret_values_masked(
    client: TestClient,
    login: Callable[[str], str],
    engine: Engine,
    ui_settings: config.Settings,
    audit_events: Callable[[], list[tuple[str, str | None, str | None]]],
) -> None:
    csrf = login("Op")
    assert (
        client.post(
            "/variables", data={"csrf_token": csrf, "key": "region", "value": "eu-west"}
        ).status_code
        == 303
    )
    assert (
        client.post(
            "/variables", data={"csrf_token": csrf, "key": "db_password", "value": "hunter2"}
        ).status_code
        == 303
    )
    page = client.get("/variables").text
    assert "eu-west" in page and "db_password" in page and "hunter2" not in page and "***" in page
    edit = client.get("/variables/db_password/edit").text
    assert "hunter2" not in edit and "leave empty to keep it" in edit
    # Saving a secret with an empty value keeps it.
    client.post(
        "/variables",
        data={
            "csrf_token": csrf,
            "original": "db_password",
            "key": "db_password",
            "value": "",
            "description": "the db",
        },
    )
    cipher = SecretCipher.from_settings(ui_settings)
    stored = db_engine.run_in_transaction(
        engine, lambda s: variables.get_variable(s, "db_password", cipher=cipher)
    )
    assert stored == "hunter2"
    duplicate = client.post("/variables", data={"csrf_token": csrf, "key": "region", "value": "x"})
    assert duplicate.status_code == 400 and "already exists" in duplicate.text
    assert client.post("/variables/region/delete", data={"csrf_token": csrf}).status_code == 303
    assert "eu-west" not in client.get("/variables").text
    events = [event for event, owner, _ in audit_events() if owner == "op_user"]
    assert events == ["variable_create", "variable_create", "variable_edit", "variable_delete"]


def test_connection_password_is_never_shown(
    client: TestClient,
    login: Callable[[str], str],
    engine: Engine,
    ui_settings: config.Settings,
) -> None:
    csrf = login("Admin")
    response = client.post(
        "/connections",
        data={
            "csrf_token": csrf,
            "conn_id": "warehouse",
            "conn_type": "postgres",
            "host": "db.internal",
            "port": "5432",
            "login": "etl",
            "password": "hunter2",
            "extra": '{"sslmode": "require", "api_token": "tok-123"}',
        },
    )
    assert response.status_code == 303
    for page in (client.get("/connections").text, client.get("/connections/warehouse/edit").text):
        assert "db.internal" in page
        assert "hunter2" not in page and "tok-123" not in page
    # Saving the edit form as shown (password empty, extra masked) keeps both secrets.
    client.post(
        "/connections",
        data={
            "csrf_token": csrf,
            "original": "warehouse",
            "conn_id": "warehouse",
            "conn_type": "postgres",
            "host": "db2.internal",
            "port": "5432",
            "login": "etl",
            "password": "",
            "extra": '{"sslmode": "require", "api_token": "***"}',
        },
    )
    cipher = SecretCipher.from_settings(ui_settings)
    stored = db_engine.run_in_transaction(
        engine, lambda s: connections.get_connection(s, "warehouse", cipher=cipher)
    )
    assert stored.host == "db2.internal" and stored.password == "hunter2"
    assert stored.extra_dejson == {"sslmode": "require", "api_token": "tok-123"}
    bad = client.post(
        "/connections",
        data={"csrf_token": csrf, "conn_id": "x", "conn_type": "http", "port": "99999"},
    )
    assert bad.status_code == 400 and "invalid port" in bad.text
    assert (
        client.post("/connections/warehouse/delete", data={"csrf_token": csrf}).status_code == 303
    )
    assert "db2.internal" not in client.get("/connections").text


def test_pools(client: TestClient, login: Callable[[str], str]) -> None:
    csrf = login("Op")
    assert (
        client.post(
            "/pools",
            data={"csrf_token": csrf, "pool": "gpu", "slots": "4", "description": "the GPUs"},
        ).status_code
        == 303
    )
    page = client.get("/pools").text
    assert "gpu" in page and "the GPUs" in page and "default_pool" in page
    client.post("/pools", data={"csrf_token": csrf, "original": "gpu", "pool": "gpu", "slots": "8"})
    assert ">8<" in client.get("/pools").text
    bad = client.post("/pools", data={"csrf_token": csrf, "pool": "cpu", "slots": "many"})
    assert bad.status_code == 400 and "invalid slots" in bad.text
    client.post("/pools/default_pool/delete", data={"csrf_token": csrf})
    assert "cannot be deleted" in client.get("/pools").text
    assert client.post("/pools/gpu/delete", data={"csrf_token": csrf}).status_code == 303


def test_users_admin(client: TestClient, login: Callable[[str], str]) -> None:
    csrf = login("Admin")
    created = client.post(
        "/users",
        data={
            "csrf_token": csrf,
            "username": "newbie",
            "password": "pw-1",
            "role": "Viewer",
            "email": "n@example.com",
            "active": "true",
        },
    )
    assert created.status_code == 303
    assert "newbie" in client.get("/users").text
    client.post(
        "/users",
        data={
            "csrf_token": csrf,
            "original": "newbie",
            "username": "newbie",
            "role": "User",
            "active": "true",
        },
    )
    assert "User</span>" in client.get("/users").text
    client.post("/users/admin_user/delete", data={"csrf_token": csrf})
    assert "cannot delete yourself" in client.get("/users").text
    demote = client.post(
        "/users",
        data={
            "csrf_token": csrf,
            "original": "admin_user",
            "username": "admin_user",
            "role": "Viewer",
            "active": "true",
        },
    )
    assert demote.status_code == 400 and "your own role" in demote.text
    assert client.post("/users/newbie/delete", data={"csrf_token": csrf}).status_code == 303
    assert '<td class="mono">newbie' not in client.get("/users").text


def test_audit_log_page_filters(client: TestClient, login: Callable[[str], str]) -> None:
    csrf = login("Op")
    client.post("/pools", data={"csrf_token": csrf, "pool": "gpu", "slots": "4"})
    client.post("/variables", data={"csrf_token": csrf, "key": "k", "value": "v"})
    page = client.get("/audit-log").text
    assert "pool_create" in page and "variable_create" in page and "op_user" in page
    only_pools = client.get("/audit-log?event=pool").text
    assert "pool_create" in only_pools and "variable_create" not in only_pools


def test_variables_and_connections_pages_are_for_ops(
    client: TestClient, login: Callable[[str], str]
) -> None:
    """As the REST API and Airflow's roles have it: a Viewer or User reads neither."""
    for role in ("Viewer", "User"):
        client.cookies.clear()
        login(role)
        assert client.get("/variables").status_code == 403
        assert client.get("/connections").status_code == 403
        assert client.get("/pools").status_code == 200
        assert 'href="/variables"' not in client.get("/pools").text
    client.cookies.clear()
    login("Op")
    assert client.get("/variables").status_code == 200
    assert client.get("/connections").status_code == 200
    assert 'href="/variables"' in client.get("/pools").text
