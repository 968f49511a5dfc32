"""``/api/v2/variables``, ``/connections`` and ``/pools``: CRUD, masking, conflicts, bad input."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tradewind.db import engine as db_engine
from tradewind.db.models import ConnectionRow, Log, Variable


def _events(engine: Engine) -> list[tuple[str, str | None, dict | None]]:
    return db_engine.run_in_transaction(
        engine, lambda s: [(r.event, r.owner, r.extra) for r in s.scalars(select(Log))]
    )


def test_variables(client: TestClient, auth, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    op = auth("Op")
    url = "/api/v2/variables"
    created = client.post(
        url, json={"key": "greeting", "value": "hello", "description": "words"}, headers=op
    )
    assert created.status_code == 201
    assert created.json() == {
        "key": "greeting",
        "value": "hello",
        "description": "words",
        "is_encrypted": False,
        "team_name": None,
    }
    assert (
        client.post(url, json={"key": "db_password", "value": "s3cret"}, headers=op).json()["value"]
        == "***"
    )
    config = client.post(
        url, json={"key": "settings", "value": {"host": "h", "api_key": "k"}}, headers=op
    ).json()
    assert config["value"] == '{"host": "h", "api_key": "***"}'
    assert (
        client.post(url, json={"key": "greeting", "value": "again"}, headers=op).status_code == 409
    )

    # Variables hold secrets: as in Airflow, Ops read them, Viewers and Users do not.
    assert client.get(url, headers=auth("User")).status_code == 403
    listed = client.get(f"{url}?order_by=key", headers=op).json()
    assert [v["key"] for v in listed["variables"]] == ["db_password", "greeting", "settings"]
    assert listed["total_entries"] == 3
    assert client.get(f"{url}?variable_key_pattern=GREET", headers=op).json()["total_entries"] == 1
    assert client.get(f"{url}/db_password", headers=op).json()["value"] == "***"
    stored = db_engine.run_in_transaction(
        engine, lambda s: s.scalar(select(Variable.val).where(Variable.key == "settings"))
    )
    assert stored == '{"host": "h", "api_key": "k"}'

    patched = client.patch(
        f"{url}/greeting?update_mask=description",
        json={"key": "greeting", "value": "ignored", "description": "new"},
        headers=op,
    ).json()
    assert (patched["value"], patched["description"]) == ("hello", "new")
    assert (
        client.patch(f"{url}/greeting", json={"key": "greeting", "value": 5}, headers=op).json()[
            "value"
        ]
        == "5"
    )
    assert (
        client.patch(f"{url}/greeting", json={"key": "other", "value": 1}, headers=op).status_code
        == 400
    )
    assert (
        client.patch(f"{url}/nope", json={"key": "nope", "value": 1}, headers=op).status_code == 404
    )

    for bad in (
        {"value": "no key"},
        {"key": "k"},
        {"key": "x" * 251, "value": 1},
        {"key": "k", "value": 1, "extra": 2},
        {"key": " k", "value": 1},
    ):
        response = client.post(url, json=bad, headers=op)
        assert response.status_code in (400, 422), (bad, response.text)
    assert (
        client.post(url, json={"key": "k", "value": 1, "team_name": "blue"}, headers=op).status_code
        == 400
    )

    assert client.delete(f"{url}/greeting", headers=op).status_code == 204
    assert client.delete(f"{url}/greeting", headers=op).status_code == 404
    assert client.get(f"{url}/greeting", headers=op).status_code == 404
    assert [event for event, owner, _ in _events(engine) if owner == "op"] == [
        "post_variable",
        "post_variable",
        "post_variable",
        "patch_variable",
        "patch_variable",
        "delete_variable",
    ]


def test_connections(client: TestClient, auth, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    op = auth("Op")
    url = "/api/v2/connections"
    body = {
        "connection_id": "warehouse",
        "conn_type": "postgres",
        "host": "db",
        "login": "me",
        "password": "p@ss!",  # "@" and "!" never occur in a Fernet token
        "port": 5432,
        "schema": "sales",
        "extra": '{"sslmode": "require", "token": "t0p"}',
    }
    created = client.post(url, json=body, headers=op)
    assert created.status_code == 201, created.text
    shown = created.json()
    assert shown["password"] == "***" and shown["schema"] == "sales" and shown["port"] == 5432
    assert shown["extra"] == '{"sslmode": "require", "token": "***"}'
    assert "p@ss!" not in created.text and "t0p" not in created.text
    assert client.post(url, json=body, headers=op).status_code == 409
    assert client.get(url, headers=op).json()["connections"] == [shown]
    assert client.get(f"{url}/warehouse", headers=op).json() == shown
    assert client.get(f"{url}/warehouse", headers=auth("Viewer")).status_code == 403

    # Sending back what GET showed keeps the secrets; only the port changes.
    patched = client.patch(f"{url}/warehouse", json={**shown, "port": 6543}, headers=op)
    assert patched.status_code == 200, patched.text
    stored = db_engine.run_in_transaction(
        engine,
        lambda s: s.scalar(select(ConnectionRow).where(ConnectionRow.conn_id == "warehouse")),
    )
    assert stored.port == 6543 and stored.is_encrypted and "p@ss!" not in (stored.password or "")
    from tradewind.services import connections
    from tradewind.services.secrets import SecretCipher

    cipher = SecretCipher.from_settings(client.app.state.settings)  # type: ignore[attr-defined]
    plain = db_engine.run_in_transaction(
        engine, lambda s: connections.get_connection(s, "warehouse", cipher=cipher)
    )
    assert plain.password == "p@ss!"
    assert plain.extra_dejson == {"sslmode": "require", "token": "t0p"}

    masked = client.patch(
        f"{url}/warehouse?update_mask=host",
        json={"connection_id": "warehouse", "conn_type": "x", "host": "db2"},
        headers=op,
    ).json()
    assert (masked["host"], masked["conn_type"]) == ("db2", "postgres")
    for bad, status in (
        ({"connection_id": "warehouse", "conn_type": "pg", "port": "many"}, 422),
        ({"connection_id": "other", "conn_type": "pg"}, 400),
        ({"connection_id": "warehouse", "conn_type": "pg", "extra": "not json"}, 400),
    ):
        response = client.patch(f"{url}/warehouse", json=bad, headers=op)
        assert response.status_code == status, (bad, response.text)
    for bad in (
        {"conn_type": "pg"},
        {"connection_id": "has space", "conn_type": "pg"},
        {"connection_id": "c", "conn_type": "pg", "port": 70000},
    ):
        assert client.post(url, json=bad, headers=op).status_code in (400, 422), bad
    assert (
        client.patch(
            f"{url}/nope", json={"connection_id": "nope", "conn_type": "pg"}, headers=op
        ).status_code
        == 404
    )
    assert client.delete(f"{url}/warehouse", headers=op).status_code == 204
    assert client.delete(f"{url}/warehouse", headers=op).status_code == 404
    assert all("p@ss!" not in str(extra) for _, _, extra in _events(engine))


def test_pools(client: TestClient, auth, make_run, set_ti, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    op = auth("Op")
    url = "/api/v2/pools"
    created = client.post(
        url, json={"name": "db", "slots": 2, "description": "database"}, headers=op
    )
    assert created.status_code == 201
    assert created.json() == {
        "name": "db",
        "slots": 2,
        "description": "database",
        "include_deferred": False,
        "occupied_slots": 0,
        "running_slots": 0,
        "queued_slots": 0,
        "scheduled_slots": 0,
        "open_slots": 2,
        "deferred_slots": 0,
        "team_name": None,
    }
    assert client.post(url, json={"name": "db", "slots": 1}, headers=op).status_code == 409
    make_run(run_id="r1")
    set_ti("r1", "extract", state="running", pool="db", try_number=1)
    set_ti("r1", "load", state="scheduled", pool="db")
    db = client.get(f"{url}/db", headers=op).json()
    assert (db["running_slots"], db["scheduled_slots"], db["occupied_slots"], db["open_slots"]) == (
        1,
        1,
        1,
        1,
    )
    assert [p["name"] for p in client.get(url, headers=op).json()["pools"]] == [
        "default_pool",
        "db",
    ]
    assert client.get(f"{url}?pool_name_pattern=def", headers=op).json()["total_entries"] == 1

    renamed = client.patch(f"{url}/db", json={"pool": "database", "slots": -1}, headers=op).json()
    assert (renamed["name"], renamed["slots"], renamed["open_slots"]) == ("database", -1, -1)
    assert (
        client.patch(
            f"{url}/database?update_mask=slots", json={"slots": 4, "description": "x"}, headers=op
        ).json()["description"]
        == "database"
    )
    assert client.patch(f"{url}/default_pool", json={"slots": 64}, headers=op).json()["slots"] == 64
    assert (
        client.patch(f"{url}/default_pool", json={"pool": "renamed"}, headers=op).status_code == 400
    )
    assert client.patch(f"{url}/nope", json={"slots": 1}, headers=op).status_code == 404
    for bad in (
        {"name": "p", "slots": -2},
        {"name": "p"},
        {"name": "p", "slots": "lots"},
        {"slots": 1},
    ):
        assert client.post(url, json=bad, headers=op).status_code == 422, bad
    assert client.patch(f"{url}/database", json={"slots": None}, headers=op).status_code == 400

    deleted = client.delete(f"{url}/default_pool", headers=op)
    assert deleted.status_code == 400 and "default_pool" in deleted.json()["detail"]
    assert client.delete(f"{url}/database", headers=op).status_code == 204
    assert client.delete(f"{url}/database", headers=op).status_code == 404
    assert [event for event, _, _ in _events(engine)] == [
        "post_pool",
        "patch_pool",
        "patch_pool",
        "patch_pool",
        "delete_pool",
    ]
