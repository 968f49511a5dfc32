"""Connections: Airflow's URI and JSON forms, and storage with encrypted secrets."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db import models
from tradewind.exceptions import (
    AlreadyExists,
    ConnectionNotFound,
    InvalidArgument,
    SecretDecryptionError,
)
from tradewind.services import connections
from tradewind.services.connections import Connection
from tradewind.services.secrets import SecretCipher


@pytest.fixture
def cipher() -> SecretCipher:
    return SecretCipher([Fernet.generate_key().decode()])


def test_parse_full_uri() -> None:
    conn = Connection.from_uri(
        "pg", "postgresql://us%40er:p%2Fw%3A@db.example.com:5432/my%20db?sslmode=require&x="
    )
    assert (conn.conn_type, conn.host, conn.port, conn.schema) == (
        "postgres",
        "db.example.com",
        5432,
        "my db",
    )
    assert (conn.login, conn.password) == ("us@er", "p/w:")
    assert conn.extra_dejson == {"sslmode": "require", "x": ""}


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "google-cloud-platform://?project=p",
            {"conn_type": "google_cloud_platform", "host": None, "extra": {"project": "p"}},
        ),
        (
            "spark://k8s://100.68.0.1:443?deploy-mode=cluster",
            {
                "conn_type": "spark",
                "host": "k8s://100.68.0.1",
                "port": 443,
                "extra": {"deploy-mode": "cluster"},
            },
        ),
        (
            "http://h/?__extra__=%7B%22n%22%3A+1%7D",
            {"conn_type": "http", "host": "h", "extra": {"n": 1}},
        ),
        ("sqlite://%2Ftmp%2Fdb.sqlite", {"conn_type": "sqlite", "host": "/tmp/db.sqlite"}),
        ("aws://", {"conn_type": "aws", "host": None, "extra": {}}),
    ],
)
def test_parse_uri_variants(uri: str, expected: dict[str, object]) -> None:
    conn = Connection.from_uri("c", uri)
    for field, value in expected.items():
        actual = conn.extra_dejson if field == "extra" else getattr(conn, field)
        assert actual == value, field


@pytest.mark.parametrize("uri", ["no-scheme", "a://b://c://d", "http://h:notaport/"])
def test_invalid_uris(uri: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid connection URI"):
        Connection.from_uri("c", uri)


@pytest.mark.parametrize(
    "conn",
    [
        Connection(
            "a",
            "postgres",
            host="h",
            schema="db",
            login="u",
            password="p@ss:/w",
            port=5432,
            extra=json.dumps({"sslmode": "require"}),
        ),
        Connection(
            "b", "http", host="https://example.com", extra=json.dumps({"timeout": 3, "n": [1]})
        ),
        Connection("c", "google_cloud_platform", extra=json.dumps({"project": "p"})),
        Connection("d", "aws", login="AK", port=443),
    ],
)
def test_uri_round_trip(conn: Connection) -> None:
    back = Connection.from_uri(conn.conn_id, conn.get_uri())
    assert back == conn


def test_from_json() -> None:
    conn = Connection.from_json(
        "j", '{"conn_type": "aws", "login": "AK", "port": "443", "extra": {"region": "eu"}}'
    )
    assert (conn.conn_type, conn.login, conn.port, conn.extra_dejson) == (
        "aws",
        "AK",
        443,
        {"region": "eu"},
    )
    with pytest.raises(InvalidArgument, match="unknown connection fields: hostname"):
        Connection.from_json("j", '{"conn_type": "aws", "hostname": "x"}')
    with pytest.raises(InvalidArgument, match="needs a conn_type"):
        Connection.from_json("j", "{}")


def test_masked_hides_password_and_sensitive_extra() -> None:
    conn = Connection("c", "http", password="pw", extra=json.dumps({"api_key": "k", "timeout": 3}))
    shown = conn.masked()
    assert shown.password == "***" and shown.extra_dejson == {"api_key": "***", "timeout": 3}
    assert "pw" not in repr(conn)


def test_masked_hides_sensitive_extra_keys_at_any_depth() -> None:
    extra = {
        "auth": {"api_token": "nested-token", "user": "u"},
        "clients": [{"client_secret": "s"}],
        "n": 1,
    }
    shown = Connection("c", "http", extra=json.dumps(extra)).masked()
    assert shown.extra_dejson == {
        "auth": {"api_token": "***", "user": "u"},
        "clients": [{"client_secret": "***"}],
        "n": 1,
    }
    assert "nested-token" not in shown.get_uri()
    plain = '{"timeout":  3}'  # nothing to hide: the text is kept as written
    assert Connection("c", "http", extra=plain).masked().extra == plain


def test_update_with_a_masked_extra_keeps_the_hidden_values(
    session: Session, cipher: SecretCipher
) -> None:
    extra = {"auth": {"api_token": "nested-token", "user": "u"}, "token": "top-token", "note": "n"}
    connections.add_connection(
        session, Connection("api", "http", extra=json.dumps(extra)), cipher=cipher
    )
    shown = connections.get_connection(session, "api", cipher=cipher).masked().extra_dejson
    edited = {**shown, "auth": {**shown["auth"], "user": "new-user"}, "note": "***"}
    connections.update_connection(session, "api", {"extra": json.dumps(edited)}, cipher=cipher)
    stored = connections.get_connection(session, "api", cipher=cipher).extra_dejson
    assert stored == {
        "auth": {"api_token": "nested-token", "user": "new-user"},
        "token": "top-token",
        "note": "***",
    }


def test_add_get_list_delete(session: Session, cipher: SecretCipher) -> None:
    conn = Connection(
        "pg",
        "postgres",
        host="h",
        schema="db",
        login="u",
        password="pw",
        port=5432,
        extra='{"sslmode": "require"}',
        description="main db",
    )
    connections.add_connection(session, conn, cipher=cipher)
    assert connections.get_connection(session, "pg", cipher=cipher) == conn
    [info] = connections.list_connections(session)
    assert (info.conn_id, info.host, info.is_encrypted, info.is_extra_encrypted) == (
        "pg",
        "h",
        True,
        True,
    )
    assert not hasattr(info, "password")
    connections.delete_connection(session, "pg")
    with pytest.raises(ConnectionNotFound, match="^Connection pg does not exist$"):
        connections.get_connection(session, "pg", cipher=cipher)
    with pytest.raises(ConnectionNotFound):
        connections.delete_connection(session, "pg")


def test_secrets_are_encrypted_at_rest(session: Session, cipher: SecretCipher) -> None:
    connections.add_connection(
        session,
        Connection("c", "http", password="hunter2", extra='{"token": "t0k"}'),
        cipher=cipher,
    )
    row = session.scalars(select(models.ConnectionRow)).one()
    assert row.password and "hunter2" not in row.password
    assert row.extra and "t0k" not in row.extra


def test_no_password_stays_none(session: Session, cipher: SecretCipher) -> None:
    connections.add_connection(session, Connection("c", "http", host="h"), cipher=cipher)
    row = session.scalars(select(models.ConnectionRow)).one()
    assert (row.password, row.is_encrypted, row.extra, row.is_extra_encrypted) == (
        None,
        False,
        None,
        False,
    )
    assert connections.get_connection(session, "c", cipher=cipher).password is None


def test_duplicate_conn_id(session: Session, cipher: SecretCipher) -> None:
    connections.add_connection(session, Connection("c", "http"), cipher=cipher)
    with pytest.raises(AlreadyExists, match="A connection with conn_id c already exists"):
        connections.add_connection(session, Connection("c", "ftp"), cipher=cipher)
    # the savepoint kept the session usable
    assert connections.get_connection(session, "c", cipher=cipher).conn_type == "http"


def test_wrong_key_names_the_connection(session: Session, cipher: SecretCipher) -> None:
    connections.add_connection(session, Connection("c", "http", password="pw"), cipher=cipher)
    wrong = SecretCipher([Fernet.generate_key().decode()])
    with pytest.raises(
        SecretDecryptionError, match="cannot decrypt the password of connection 'c'"
    ):
        connections.get_connection(session, "c", cipher=wrong)


@pytest.mark.parametrize("conn_id", ["", "has space", "a/b", "x" * 251])
def test_invalid_conn_ids(session: Session, cipher: SecretCipher, conn_id: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid conn_id"):
        connections.add_connection(session, Connection(conn_id, "http"), cipher=cipher)


def test_connection_is_a_frozen_value() -> None:
    conn = Connection("c", "http", host="a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        conn.host = "b"  # type: ignore[misc]
    assert dataclasses.replace(conn, host="b").host == "b"
