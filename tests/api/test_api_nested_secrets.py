"""Secrets nested in a connection's extra or a JSON variable are masked for every reader, and a
masked connection sent back keeps them; the audit log never holds them."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tradewind.db import engine as db_engine
from tradewind.services import connections
from tradewind.services.secrets import SecretCipher

EXTRA = {
    "auth": {"api_token": "nested-token-1", "user": "robot"},
    "clients": [{"client_secret": "nested-secret-2"}],
}


def test_nested_connection_extra_is_masked_and_kept_on_update(
    client: TestClient, auth, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    op = auth("Op")  # as in Airflow, only Ops (and Admins) read connections and variables
    body = {
        "connection_id": "nested",
        "conn_type": "http",
        "password": "top-password",
        "extra": json.dumps(EXTRA),
    }
    assert client.post("/api/v2/connections", json=body, headers=op).status_code == 201
    assert client.get("/api/v2/connections/nested", headers=auth("Viewer")).status_code == 403
    shown = client.get("/api/v2/connections/nested", headers=op)
    assert shown.status_code == 200
    assert json.loads(shown.json()["extra"]) == {
        "auth": {"api_token": "***", "user": "robot"},
        "clients": [{"client_secret": "***"}],
    }
    listed = client.get("/api/v2/connections", headers=op).text
    for text in (shown.text, listed):
        assert (
            "nested-token-1" not in text
            and "nested-secret-2" not in text
            and "top-password" not in text
        )

    edited = json.loads(shown.json()["extra"])
    edited["auth"]["user"] = "new-robot"
    patched = client.patch(
        "/api/v2/connections/nested", json={**shown.json(), "extra": json.dumps(edited)}, headers=op
    )
    assert patched.status_code == 200, patched.text
    cipher = SecretCipher.from_settings(client.app.state.settings)  # type: ignore[attr-defined]
    stored = db_engine.run_in_transaction(
        engine, lambda s: connections.get_connection(s, "nested", cipher=cipher)
    )
    assert stored.password == "top-password"
    assert stored.extra_dejson == {
        "auth": {"api_token": "nested-token-1", "user": "new-robot"},
        "clients": [{"client_secret": "nested-secret-2"}],
    }

    variable = {
        "key": "service_config",
        "value": json.dumps({"region": "eu", "auth": {"password": "var-nested-pw"}}),
    }
    assert client.post("/api/v2/variables", json=variable, headers=op).status_code == 201
    value = client.get("/api/v2/variables/service_config", headers=op).json()["value"]
    assert json.loads(value) == {"region": "eu", "auth": {"password": "***"}}

    events = client.get("/api/v2/eventLogs", headers=auth("Admin"))
    assert events.status_code == 200 and events.json()["total_entries"] >= 3
    for secret in ("nested-token-1", "nested-secret-2", "top-password", "var-nested-pw"):
        assert secret not in events.text
