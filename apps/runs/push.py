"""Run state changes pushed to whoever waits for them: the pages (server-sent events,
apps/runs/event_views.py) and `run_pipeline --wait`.

Writers (the sync, the copy of a step's outputs, a refused submit) publish after their
transaction commits, on Redis pub/sub: one channel per run and one for the runs list, under
YDP_REDIS_PREFIX so that installs (and test sessions) sharing a Redis do not hear each other.
A message says which runs changed and their state, nothing more: a page asks for the same
server-rendered partial its poll asks for, so there is one renderer. Pub/sub keeps nothing: a
reader that was away asks once again when it comes back, and pages poll while they cannot hear.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterable
from typing import Any

import redis
from django.conf import settings
from django.db import transaction

from apps.runs.models import RUN_PROJECT, Run

logger = logging.getLogger(__name__)

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


class PushUnavailable(Exception):
    """No Redis is configured, or it cannot be reached: readers fall back to polling."""


def redis_client() -> redis.Redis:
    """One client (and connection pool) per process and URL. Raises PushUnavailable without a
    Redis URL (the no-server default)."""
    url = settings.REDIS_URL
    if not url:
        raise PushUnavailable("no REDIS_URL: changes are not pushed")
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
            _clients[url] = client
        return client


def run_channel(run_id: Any) -> str:
    return f"{settings.YDP_REDIS_PREFIX}ydp:run-events:{run_id}"


def list_channel(project_id: Any) -> str:
    """The runs list's channel of one project: a list stream hears only the runs of the
    project it shows (apps.projects.scope), never another project's ids or states."""
    return f"{settings.YDP_REDIS_PREFIX}ydp:project-run-events:{project_id}"


def publish(changes: dict[Any, str]) -> None:
    """Tell the readers that these runs (id -> state) changed. Best effort: a page that misses
    it polls, --wait looks again; a write never fails for it."""
    if not changes or not settings.REDIS_URL:
        return
    runs = {str(run_id): state for run_id, state in changes.items()}
    by_project: dict[Any, dict[str, str]] = {}
    for run_id, project_id in Run.objects.filter(pk__in=list(runs)).values_list("pk", RUN_PROJECT):
        by_project.setdefault(project_id, {})[str(run_id)] = runs[str(run_id)]
    try:
        pipe = redis_client().pipeline(transaction=False)
        for run_id, state in runs.items():
            pipe.publish(run_channel(run_id), json.dumps({"run": run_id, "state": state}))
        for project_id, project_runs in by_project.items():
            pipe.publish(list_channel(project_id), json.dumps({"runs": project_runs}))
        pipe.execute()
    except (redis.RedisError, PushUnavailable) as exc:
        logger.warning("run changes not pushed (%s): pages poll", exc)


def publish_on_commit(changes: dict[Any, str]) -> None:
    """publish() once the current transaction commits (at once outside one): a reader that
    hears it must read the new rows."""
    if changes:
        pending = dict(changes)
        transaction.on_commit(lambda: publish(pending))


class Subscription:
    """Messages on some channels, as dicts. Use as a context manager; wait() blocks up to its
    timeout and returns what arrived (an empty list when nothing did)."""

    def __init__(self, channels: Iterable[str]) -> None:
        self.channels = list(channels)
        try:
            self._pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
            self._pubsub.subscribe(*self.channels)
        except redis.RedisError as exc:
            raise PushUnavailable(str(exc)) from exc

    def wait(self, timeout: float) -> list[dict[str, Any]]:
        try:
            message = self._pubsub.get_message(timeout=max(timeout, 0.0))
            found = []
            while message is not None:
                if message.get("type") == "message":
                    with contextlib.suppress(ValueError):
                        found.append(json.loads(message["data"]))
                # whatever else already arrived, without waiting again
                message = self._pubsub.get_message(timeout=0.0)
            return found
        except redis.RedisError as exc:
            raise PushUnavailable(str(exc)) from exc

    def close(self) -> None:
        with contextlib.suppress(redis.RedisError):
            self._pubsub.close()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
