"""Queueing Celery tasks without letting a broker outage turn a saved change into an error page.

Whatever a task does is recorded in the database first (a Pending run, a step to copy), and a
reconciler on beat finds the rows whose task never ran. So when the broker is away, the publish
is logged and reported to the caller, never raised: the user's change stands, and a retry by the
user would only make a duplicate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from celery import Task
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# What a publish raises when the broker cannot be reached (kombu wraps most, not all).
BROKER_ERRORS = (BrokerError, RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)

QUEUE_DOWN_MESSAGE = "queued; will be submitted when the task queue is back"


@dataclass
class Enqueued:
    """What became of a task queued for after the commit: `sent` is None until then."""

    task: str
    sent: bool | None = None

    @property
    def failed(self) -> bool:
        return self.sent is False


def enqueue(task: Task, *args: Any) -> bool:
    """Send the task now. False (logged) when the broker is away."""
    try:
        task.delay(*args)
    except BROKER_ERRORS as exc:
        logger.warning(
            "task queue unavailable, %s%r left to the reconciler: %s", task.name, args, exc
        )
        return False
    return True


def enqueue_on_commit(task: Task, *args: Any) -> Enqueued:
    """Send the task once the current transaction commits (at once outside of one)."""
    handle = Enqueued(task.name)

    def send() -> None:
        handle.sent = enqueue(task, *args)

    transaction.on_commit(send)
    return handle
