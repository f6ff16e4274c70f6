"""Server-sent events: a run's changes (`/runs/<id>/events/`) and those of the runs the list
shows, the current project's (`/runs/events/`); both scoped like every page (apps.projects).

The web server is synchronous (runserver's threads, gunicorn's gthread workers), so an open
stream holds a thread: a process holds at most YDP_EVENT_STREAMS of them and refuses the next
with 429 (the page then polls, and its EventSource tries again later). Each stream sends a
comment every KEEPALIVE seconds, which is also how a closed client shows (the write fails and the
server closes the stream, freeing its thread and Redis connection), and ends after LIFETIME
seconds (EventSource reconnects by itself), so no stream outlives a deploy or a lost client.

An event carries the run ids and states that changed; the page asks for the partials it polls.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from apps.projects import scope
from apps.runs.models import RUN_PROJECT, Run
from apps.runs.push import PushUnavailable, Subscription, list_channel, run_channel

KEEPALIVE = 10.0  # seconds between comments on a quiet stream
LIFETIME = 300.0  # seconds a stream lasts before the browser is asked to reconnect
RETRY_MS = 2000  # EventSource's wait before it reconnects


class StreamSlots:
    """The open streams of this process, bounded by settings.YDP_EVENT_STREAMS (read at each
    acquire, so tests and operators can change it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0

    def acquire(self) -> bool:
        with self._lock:
            if self.open >= settings.YDP_EVENT_STREAMS:
                return False
            self.open += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.open -= 1


SLOTS = StreamSlots()


def _frame(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


class EventStream:
    """The frames of one stream. The server closes it when the client left or LIFETIME
    passed (Django calls close() on a streaming response's content); close() frees the slot
    and the Redis connection once, even when no frame was ever sent."""

    def __init__(self, subscription: Subscription, slots: StreamSlots) -> None:
        self.subscription = subscription
        self.slots = slots  # the bound its slot came from (tests give each their own)
        self._frames = self._generate()
        self._closed = False

    def __iter__(self) -> Iterator[str]:
        return self._frames

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._frames.close()
        self.subscription.close()
        self.slots.release()

    def _generate(self) -> Iterator[str]:
        # The first bytes go out at once: the browser sees the stream open (its `open` event,
        # when a page asks once for what it may have missed before it subscribed).
        yield f"retry: {RETRY_MS}\n: open\n\n"
        began = last = time.monotonic()
        try:
            while time.monotonic() - began < LIFETIME:
                for message in self.subscription.wait(min(KEEPALIVE, 1.0)):
                    last = time.monotonic()
                    runs = message.get("runs") or {message["run"]: message["state"]}
                    yield _frame("change", runs)
                if time.monotonic() - last >= KEEPALIVE:
                    last = time.monotonic()
                    yield ": keep-alive\n\n"
        except PushUnavailable:
            yield _frame("unavailable", {})  # Redis went away: the page polls


def _open(channel: str) -> HttpResponse:
    slots = SLOTS
    if not slots.acquire():
        response = HttpResponse(
            "Too many open event streams; the page polls instead.",
            status=429,
            content_type="text/plain",
        )
        response["Retry-After"] = "10"
        return response
    try:
        subscription = Subscription([channel])
    except PushUnavailable:
        slots.release()
        return HttpResponse(
            "Changes are not pushed here (no Redis); the page polls.",
            status=503,
            content_type="text/plain",
        )
    # The stream reads no rows: give this thread's database connection back now rather than
    # hold it for minutes (not inside a transaction: a test's, or ATOMIC_REQUESTS).
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close()
    response = StreamingHttpResponse(
        EventStream(subscription, slots), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy (nginx) must pass each event on at once
    return response


@require_GET
def run_events(request: HttpRequest, pk: Any) -> HttpResponse:
    """This run's changes: `change` events whose data is {run id: state}."""
    run = scope.get_visible(request, Run.objects.only("pk"), RUN_PROJECT, pk=pk)
    return _open(run_channel(run.pk))


@require_GET
def list_events(request: HttpRequest) -> HttpResponse:
    """The changes of the runs the list shows (the switcher's project): `change` events,
    {run id: state, ...}."""
    project = scope.current_project(request)
    if project is None:
        raise Http404("No project.")
    return _open(list_channel(project.pk))
