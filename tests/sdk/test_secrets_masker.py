"""The secrets masker: what ``mask_secret`` registers, and how ``redact`` hides registered values
and the values of sensitive keys in nested data."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import tradewind
from tradewind.sdk import log as sdk_log
from tradewind.sdk import secrets_masker
from tradewind.sdk.secrets_masker import (
    SecretsMasker,
    hide_sensitive_keys,
    mask_secret,
    masker,
    redact,
    restore_hidden,
)


@pytest.fixture(autouse=True)
def _fresh_masker() -> Iterator[None]:
    masker.reset()
    yield
    masker.reset()


def test_mask_secret_is_exported_where_authors_look_for_it() -> None:
    assert tradewind.mask_secret is mask_secret
    assert sdk_log.mask_secret is mask_secret
    assert "mask_secret" in tradewind.__all__


def test_a_registered_string_is_hidden_wherever_it_appears() -> None:
    mask_secret("hunter2-secret")
    assert redact("user=bob password=hunter2-secret;") == "user=bob password=***;"
    assert masker.redact_text("a hunter2-secret b hunter2-secret") == "a *** b ***"


def test_strings_shorter_than_five_characters_and_common_words_are_not_masked(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="tradewind.secrets_masker"):
        for value in ("abcd", "Tradewind", "airflow", "", None, 123456):
            mask_secret(value)
    assert not masker.active
    assert redact("abcd Tradewind airflow 123456") == "abcd Tradewind airflow 123456"
    assert [r.getMessage() for r in caplog.records] == [
        "A secret shorter than 5 characters is not masked"
    ]
    mask_secret("abcde")
    assert redact("abcde") == "***"


def test_a_name_decides_whether_a_string_is_a_secret() -> None:
    mask_secret("eu-west-region", "region")
    mask_secret("s3cr3t-value", "db_password")
    mask_secret("bearer-abc-123", "Authorization")
    assert redact("eu-west-region s3cr3t-value bearer-abc-123") == "eu-west-region *** ***"


def test_a_dict_registers_the_values_of_its_sensitive_keys_at_any_depth() -> None:
    mask_secret(
        {
            "host": "db.example.com",
            "token": "tok-top-level",
            "auth": {"api_key": "key-nested-1", "user": "bob-the-user", "retries": 3},
            "clients": [{"client_secret": "in-a-list-1"}],
            "passwords": ["first-pass", "second-pass"],
            "private_key": {"pem": "-----BEGIN KEY-----"},  # all of a sensitive key's value
        }
    )
    shown = redact(
        "db.example.com tok-top-level key-nested-1 bob-the-user in-a-list-1 first-pass second-pass "
        "-----BEGIN KEY-----"
    )
    assert shown == "db.example.com *** *** bob-the-user *** *** *** ***"


def test_a_list_registers_each_item() -> None:
    mask_secret(["first-secret", "second-secret"])
    assert redact("first-secret, second-secret") == "***, ***"


def test_a_secret_containing_another_is_hidden_whole_and_regex_characters_are_literal() -> None:
    mask_secret("secret")
    mask_secret("secret-and-more")
    mask_secret("a.b*c(d)")
    assert redact("secret-and-more secret a.b*c(d) axbbc") == "*** *** *** axbbc"


def test_redact_walks_nested_structures() -> None:
    mask_secret("registered-value")
    value = {
        "env": {
            "API_TOKEN": "not-registered-but-named",
            "PLAIN": "visible",
            "URL": "https://u:registered-value@h",
        },
        "args": ("registered-value", 3, None, ["x registered-value y"]),
        "tags": {"registered-value"},
        "registered-value": "the key itself",
        "secret": {"nested": ["a-list", 42, None], "deep": {"k": "v"}},
        "count": 7,
    }
    assert redact(value) == {
        "env": {"API_TOKEN": "***", "PLAIN": "visible", "URL": "https://u:***@h"},
        "args": ["***", 3, None, ["x *** y"]],
        "tags": ["***"],
        "***": "the key itself",
        "secret": {"nested": ["***", "***", None], "deep": {"k": "***"}},
        "count": 7,
    }


def test_a_sensitive_name_hides_the_whole_value() -> None:
    assert redact({"a": "b", "n": 1}, "password") == {"a": "***", "n": "***"}
    assert redact("plain text", "api_key") == "***"
    assert redact("plain text", "bash_command") == "plain text"


def test_redact_ends_on_self_referencing_values() -> None:
    looped: list = ["x"]
    looped.append(looped)
    shown = redact(looped)
    depth = 0
    while isinstance(shown, list):
        shown, depth = shown[1], depth + 1
    assert shown == "***" and depth > 10


def test_hide_sensitive_keys_ignores_registered_values() -> None:
    mask_secret("registered-value")
    assert hide_sensitive_keys({"note": "registered-value", "auth": {"token": "t"}}) == {
        "note": "registered-value",
        "auth": {"token": "***"},
    }


def test_restore_hidden_puts_back_only_what_was_hidden() -> None:
    stored = {
        "token": "tok",
        "note": "n",
        "auth": {"api_key": "k", "user": "u"},
        "keys": [{"secret": "s"}],
    }
    shown = hide_sensitive_keys(stored)
    assert shown == {
        "token": "***",
        "note": "n",
        "auth": {"api_key": "***", "user": "u"},
        "keys": [{"secret": "***"}],
    }
    edited = {
        **shown,
        "note": "***",
        "auth": {"api_key": "***", "user": "new-user"},
        "added": "***",
    }
    assert restore_hidden(edited, stored) == {
        "token": "tok",
        "note": "***",
        "auth": {"api_key": "k", "user": "new-user"},
        "keys": [{"secret": "s"}],
        "added": "***",
    }
    assert restore_hidden({"token": "replaced"}, stored) == {"token": "replaced"}


def test_masker_instances_are_independent() -> None:
    other = SecretsMasker()
    other.add("only-in-other")
    assert redact("only-in-other") == "only-in-other"
    assert other.redact_text("only-in-other") == "***"
    assert secrets_masker.masker is masker
