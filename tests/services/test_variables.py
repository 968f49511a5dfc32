"""Variables service, on both backends."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.db import models
from tradewind.exceptions import InvalidArgument, SecretDecryptionError, VariableNotFound
from tradewind.services import variables
from tradewind.services.secrets import SecretCipher


@pytest.fixture
def cipher() -> SecretCipher:
    return SecretCipher([Fernet.generate_key().decode()])


def _raw(session: Session, key: str) -> models.Variable:
    return session.scalars(select(models.Variable).where(models.Variable.key == key)).one()


def test_set_get_string(session: Session, cipher: SecretCipher) -> None:
    variables.set_variable(
        session, "bucket", "s3://data", cipher=cipher, description="where data lands"
    )
    assert variables.get_variable(session, "bucket", cipher=cipher) == "s3://data"
    assert _raw(session, "bucket").val == "s3://data"
    assert not _raw(session, "bucket").is_encrypted


def test_non_string_values_are_stored_as_json(session: Session, cipher: SecretCipher) -> None:
    variables.set_variable(session, "cfg", {"a": [1, 2]}, cipher=cipher)
    variables.set_variable(session, "n", 3, cipher=cipher)
    assert variables.get_variable(session, "cfg", cipher=cipher) == '{"a": [1, 2]}'
    assert variables.get_variable(session, "cfg", cipher=cipher, deserialize_json=True) == {
        "a": [1, 2]
    }
    assert variables.get_variable(session, "n", cipher=cipher, deserialize_json=True) == 3


def test_serialize_json_of_a_string(session: Session, cipher: SecretCipher) -> None:
    variables.set_variable(session, "s", "text", cipher=cipher, serialize_json=True)
    assert variables.get_variable(session, "s", cipher=cipher) == '"text"'
    assert variables.get_variable(session, "s", cipher=cipher, deserialize_json=True) == "text"


def test_deserialize_invalid_json(session: Session, cipher: SecretCipher) -> None:
    variables.set_variable(session, "s", "not json", cipher=cipher)
    with pytest.raises(InvalidArgument, match="Variable s does not hold valid JSON"):
        variables.get_variable(session, "s", cipher=cipher, deserialize_json=True)


def test_missing_and_default(session: Session, cipher: SecretCipher) -> None:
    with pytest.raises(VariableNotFound, match="^Variable nope does not exist$"):
        variables.get_variable(session, "nope", cipher=cipher)
    assert variables.get_variable(session, "nope", cipher=cipher, default=None) is None
    assert variables.get_variable(session, "nope", cipher=cipher, default="d") == "d"


def test_overwrite_keeps_description_unless_given(session: Session, cipher: SecretCipher) -> None:
    variables.set_variable(session, "k", "1", cipher=cipher, description="first")
    variables.set_variable(session, "k", "2", cipher=cipher)
    assert [(v.key, v.description) for v in variables.list_variables(session)] == [("k", "first")]
    variables.set_variable(session, "k", "3", cipher=cipher, description="second")
    assert variables.list_variables(session)[0].description == "second"
    assert variables.get_variable(session, "k", cipher=cipher) == "3"


def test_delete(session: Session, cipher: SecretCipher) -> None:
    variables.set_variable(session, "k", "1", cipher=cipher)
    variables.delete_variable(session, "k")
    assert variables.list_variables(session) == []
    with pytest.raises(VariableNotFound, match="Variable k does not exist"):
        variables.delete_variable(session, "k")


@pytest.mark.parametrize("key", ["", " padded", "x" * 251])
def test_invalid_keys(session: Session, cipher: SecretCipher, key: str) -> None:
    with pytest.raises(InvalidArgument):
        variables.set_variable(session, key, "v", cipher=cipher)


def test_sensitive_variable_is_encrypted_at_rest(session: Session, cipher: SecretCipher) -> None:
    variables.set_variable(session, "db_password", "hunter2", cipher=cipher)
    raw = _raw(session, "db_password")
    assert raw.is_encrypted and raw.val and "hunter2" not in raw.val
    assert variables.get_variable(session, "db_password", cipher=cipher) == "hunter2"
    assert variables.list_variables(session)[0].is_encrypted


def test_wrong_key_names_the_variable(session: Session, cipher: SecretCipher) -> None:
    variables.set_variable(session, "api_key", "abc", cipher=cipher)
    wrong = SecretCipher([Fernet.generate_key().decode()])
    with pytest.raises(SecretDecryptionError, match="cannot decrypt variable 'api_key'"):
        variables.get_variable(session, "api_key", cipher=wrong)
    with pytest.raises(SecretDecryptionError):
        variables.export_variables(session, cipher=wrong)


def test_export_import_round_trip(session: Session, cipher: SecretCipher) -> None:
    data = {"s": "text", "n": 1, "obj": {"a": [1, None]}, "secret_token": "t0k", "t": True}
    result = variables.import_variables(session, data, cipher=cipher)
    assert sorted(result.written) == sorted(data)
    assert variables.export_variables(session, cipher=cipher) == data
    assert _raw(session, "secret_token").is_encrypted


def test_import_with_descriptions(session: Session, cipher: SecretCipher) -> None:
    variables.import_variables(session, {"k": {"value": "v", "description": "d"}}, cipher=cipher)
    assert variables.get_variable(session, "k", cipher=cipher) == "v"
    assert variables.list_variables(session)[0].description == "d"


def test_import_policies_for_existing_keys(session: Session, cipher: SecretCipher) -> None:
    variables.set_variable(session, "a", "old", cipher=cipher)
    with pytest.raises(InvalidArgument, match="Variables already exist: a"):
        variables.import_variables(
            session, {"a": "new", "b": "new"}, cipher=cipher, on_existing="fail"
        )
    assert [v.key for v in variables.list_variables(session)] == ["a"]
    result = variables.import_variables(
        session, {"a": "new", "b": "new"}, cipher=cipher, on_existing="skip"
    )
    assert (result.written, result.skipped) == (["b"], ["a"])
    assert variables.get_variable(session, "a", cipher=cipher) == "old"
    variables.import_variables(session, {"a": "new"}, cipher=cipher)
    assert variables.get_variable(session, "a", cipher=cipher) == "new"


@pytest.mark.parametrize(
    ("text", "message"), [("{", "not valid JSON"), ("[1]", "must hold a JSON object")]
)
def test_parse_import_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        variables.parse_import(text, source="vars.json")


def test_masked_value_hides_sensitive_keys_at_any_depth() -> None:
    assert variables.masked_value("db_password", "x") == "***"
    nested = json.dumps(
        {"host": "h", "auth": {"api_key": "k", "user": "u"}, "tokens": ["t1", "t2"]}
    )
    assert json.loads(variables.masked_value("config", nested)) == {
        "host": "h",
        "auth": {"api_key": "***", "user": "u"},
        "tokens": ["***", "***"],
    }
    assert variables.masked_value("plain", '{"a":  1}') == '{"a":  1}'
    assert variables.masked_value("plain", "not json") == "not json"
