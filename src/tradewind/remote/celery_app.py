"""The Celery app both sides use: the scheduler's celery executor sends with it and
``tradewind celery worker`` consumes with it, so task name, serialization and delivery rules
are the same on both ends.

Delivery rules, and why:

- ``task_acks_late``: a message is acknowledged only once its try has ended and its end was
  sent to the execution API, so a worker killed mid-try loses nothing: the broker delivers
  the message again.
- ``task_reject_on_worker_lost``: a message whose worker process died is given back to the
  broker, not acknowledged.
- ``worker_prefetch_multiplier = 1``: a worker holds no more messages than it runs; tries wait
  in the broker where an idle worker can take them.
- Durable queues and persistent messages: a broker restart keeps the tries waiting in it.
- Redis ``visibility_timeout`` (``VISIBILITY_TIMEOUT``): a message taken but not acknowledged
  for that long is delivered again. A second delivery can never run a try twice: the start
  call of the execution API refuses a try that already started (409) and the worker drops
  the copy. So the timeout only bounds how long a message taken by a worker that then died
  waits before another worker takes it; one hour keeps such redeliveries rare for long tries
  while a lost worker's unstarted tries come back the same hour. RabbitMQ redelivers at once
  when the worker's connection drops and needs no such setting.
- RabbitMQ's ``consumer_timeout`` (30 min by default): the broker closes a channel one of
  whose deliveries stayed unacknowledged longer, which late acknowledgement makes every try
  longer than that do. Celery takes that channel error for fatal and stops the worker (its
  long tries would die and be retried, to die again); ``broker_channel_error_retry`` makes it
  reconnect instead. The worker's tries go on, the broker gives their messages back, the
  copies are refused at start and dropped, and the old message's acknowledgement fails when
  its try ends (logged, harmless: the try's end went to the execution API). The server setting
  that spares these reconnections is the operator's (docs/remote-execution.md, "Brokers"):
  Tradewind declares no ``x-consumer-timeout`` queue argument: a queue keeps the arguments of
  its first declaration, and servers before 3.11.15 (3.10, say) ignore it.
- ``worker_cancel_long_running_tasks_on_connection_loss`` off (Celery 6 turns it on): a lost
  broker connection must not stop running tries; their state is the execution API's.
- JSON only: a worker must not unpickle what a broker hands it.
"""

from __future__ import annotations

from typing import Any

import celery
from kombu import Queue

#: The one Celery task name: every try travels under it.
TASK_NAME = "tradewind.run_try"
#: Seconds (Redis transport) before an unacknowledged message is delivered again.
VISIBILITY_TIMEOUT = 3600


def create_app(broker_url: str) -> celery.Celery:
    """The Celery app on ``broker_url``; no result backend (ends travel through the API)."""
    app = celery.Celery("tradewind", broker=broker_url, set_as_current=False)
    app.conf.update(app_settings())
    return app


def app_settings() -> dict[str, Any]:
    """The Celery settings shared by the scheduler and workers."""
    return {
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_create_missing_queues": True,
        "task_default_delivery_mode": "persistent",
        "broker_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT},
        "broker_connection_retry_on_startup": True,
        "broker_channel_error_retry": True,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "enable_utc": True,
    }


def queue(name: str) -> Queue:
    """A durable queue named ``name`` (its routing key is its name, on the default exchange)."""
    return Queue(name, routing_key=name, durable=True)


def broker_queue(task_queue: str, default_queue: str) -> str:
    """The broker queue of a task's ``queue=``: the built-in ``default`` maps to ``[celery]
    default_queue``."""
    return default_queue if task_queue == "default" else task_queue
