"""The real brokers of this machine, one Redis database and the RabbitMQ vhost; a test whose
broker is not reachable skips saying so (fails under ``CI=true``)."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

REDIS_URL = os.environ.get("TRADEWIND_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
RABBITMQ_URL = os.environ.get("TRADEWIND_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
BROKER_URLS = [pytest.param(REDIS_URL, id="redis"), pytest.param(RABBITMQ_URL, id="rabbitmq")]


def require(url: str) -> str:
    """``url`` when its broker answers on its port; else skip (fail under ``CI=true``)."""
    parts = urlsplit(url)
    default_port = 6379 if parts.scheme == "redis" else 5672
    try:
        socket.create_connection((parts.hostname, parts.port or default_port), timeout=2).close()
    except OSError as exc:
        reason = f"broker {parts.scheme}://{parts.hostname} not reachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return url
