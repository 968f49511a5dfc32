"""The shared Celery app on real brokers: a try sent by the scheduler side arrives as JSON on
its durable queue, and a message taken but never acknowledged is delivered again."""

from __future__ import annotations

import json
import uuid

import kombu
import pytest

from tradewind.remote import celery_app

from .brokers import BROKER_URLS, REDIS_URL, require


def test_the_builtin_default_queue_maps_to_the_configured_one() -> None:
    assert celery_app.broker_queue("default", "tradewind") == "tradewind"
    assert celery_app.broker_queue("gpu", "tradewind") == "gpu"


@pytest.mark.parametrize("broker_url", BROKER_URLS)
def test_a_sent_try_arrives_as_json_and_comes_back_unless_acknowledged(broker_url: str) -> None:
    require(broker_url)
    app = celery_app.create_app(broker_url)
    name = f"tw-test-{uuid.uuid4().hex[:8]}"
    queue = celery_app.queue(name)
    body = {"version": 1, "hello": "world"}
    with app.connection_for_write() as conn:
        queue(conn.default_channel).declare()
        app.send_task(
            celery_app.TASK_NAME, args=[body], queue=queue, routing_key=name, connection=conn
        )
    try:
        with kombu.Connection(broker_url) as conn:
            message = conn.SimpleQueue(queue).get(timeout=10)
            assert message.content_type == "application/json"
            assert message.headers["task"] == celery_app.TASK_NAME
            args = json.loads(message.body)[0]
            assert args == [body]
            # Closed without an acknowledgement: the broker keeps the message.
        if broker_url == REDIS_URL:
            return  # Redis gives it back after visibility_timeout; not waited for here.
        with kombu.Connection(broker_url) as conn:
            again = conn.SimpleQueue(queue).get(timeout=10)
            assert json.loads(again.body)[0] == [body]
            again.ack()
    finally:
        with kombu.Connection(broker_url) as conn:
            queue(conn.default_channel).delete()
