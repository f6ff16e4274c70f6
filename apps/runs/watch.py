"""Sync a workflow the moment Argo reports it moved, instead of at beat's next pass.

Beat starts one WorkflowWatcher thread (apps/runs/apps.py). It holds Argo's watch of the app's
active workflows open (`/api/v1/workflow-events/{ns}`, the call Argo's own UI makes, so the same
code serves a real Argo Server and the embedded engine) and copies each batch of changed
workflows onto their runs (apps/runs/sync.py: sync_workflows), which pushes them to the pages.
Beat's periodic pass stays: it catches what a broken watch missed.

Only one watcher writes at a time: it leads while it holds a Redis lock (a second beat, a
restarted one, or a bench beside the app waits), and it writes under the sync's own lock, so a
pass and a batch never interleave their reads and writes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import redis
from django.conf import settings
from django.db import close_old_connections, connection

from apps.orchestration.argo import (
    SYNC_FIELDS,
    WATCH_SYNC_FIELDS,
    WORKFLOW_FINAL_PHASES,
    ArgoError,
    get_client,
)
from apps.runs.push import PushUnavailable, redis_client
from apps.runs.sync import ACTIVE_SELECTOR, sync_workflows

logger = logging.getLogger(__name__)

WATCH_SECONDS = 10  # one watch lasts this long; then the lead is renewed and it is reopened
LEAD_SECONDS = 30  # the lead expires this long after a watcher stopped renewing it
BATCH_SECONDS = 0.02  # changes arriving this close together are written in one transaction
CATCH_UP_DELAY = 0.05  # seconds a new watch gets to open before the catch-up pass
LOCK_WAIT_SECONDS = 5.0  # how long a batch waits for beat's pass to release the sync lock
# The sync's fields, for one workflow (a GET) rather than a list's items.
GET_SYNC_FIELDS = ",".join(
    f.removeprefix("items.") for f in SYNC_FIELDS.split(",") if f.startswith("items.")
)


def lead_key() -> str:
    return f"{settings.YDP_REDIS_PREFIX}ydp:workflow-watcher"


def catch_up() -> None:
    """One sync pass (beat's), skipped when one is running already."""
    from apps.runs.tasks import sync_runs

    sync_runs()


def write_batch(workflows: list[dict[str, Any]]) -> dict[str, Any]:
    """Copy these workflows onto their runs under the sync lock, then queue the copy of the
    outputs of the steps that ended (as beat's pass does)."""
    from apps.orchestration.queue import enqueue
    from apps.runs.tasks import SYNC_LOCK_KEY, SYNC_LOCK_TTL, cache_lock, fetch_outputs

    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        with cache_lock(SYNC_LOCK_KEY, ttl=SYNC_LOCK_TTL) as acquired:
            if acquired:
                stats = sync_workflows(workflows)
                break
        if time.monotonic() > deadline:
            return {"skipped": True}  # a stuck pass: beat's next one copies these
        time.sleep(0.01)
    for step_id in stats.pop("finished_step_ids", []):
        enqueue(fetch_outputs, step_id)
    return stats


class WorkflowWatcher(threading.Thread):
    """The watch loop, in a daemon thread. stop() ends it within about WATCH_SECONDS."""

    def __init__(self, namespace: str | None = None) -> None:
        super().__init__(name="workflow-watcher", daemon=True)
        self.namespace = namespace
        self.stopping = threading.Event()
        self.token = f"{id(self)}-{time.time()}"
        self.batches = 0

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                if self._lead():
                    self._watch_once()
                    backoff = 0.5
                else:
                    self.stopping.wait(WATCH_SECONDS / 2)
            except (ArgoError, PushUnavailable, redis.RedisError) as exc:
                logger.warning("workflow watch: %s; again in %.1f s", exc, backoff)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 10)
            except Exception:
                logger.exception("workflow watch failed; again in %.1f s", backoff)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 10)
            finally:
                close_old_connections()
        self._resign()
        connection.close()

    def _lead(self) -> bool:
        """Take or renew the lead: SET NX, or extend it when this watcher holds it."""
        client = redis_client()
        key = lead_key()
        if client.set(key, self.token, nx=True, ex=LEAD_SECONDS):
            return True
        held = client.get(key)
        if held is not None and held.decode() == self.token:
            client.expire(key, LEAD_SECONDS)
            return True
        return False

    def _resign(self) -> None:
        try:
            client = redis_client()
            held = client.get(lead_key())
            if held is not None and held.decode() == self.token:
                client.delete(lead_key())
        except (redis.RedisError, PushUnavailable):
            pass

    def _watch_once(self) -> None:
        """One watch: a reader thread feeds the events to a queue; this thread writes them in
        batches, so a slow write never holds up reading the stream."""
        events: queue.Queue[dict[str, Any] | BaseException | None] = queue.Queue()

        def read() -> None:
            try:
                for event in get_client().watch_workflows(
                    namespace=self.namespace,
                    label_selector=ACTIVE_SELECTOR,
                    fields=WATCH_SYNC_FIELDS,
                    timeout_seconds=WATCH_SECONDS,
                ):
                    events.put(event)
                    if self.stopping.is_set():
                        break
            except BaseException as exc:  # handed to the writer, which raises it
                events.put(exc)
            events.put(None)

        reader = threading.Thread(target=read, name="workflow-watch-reader", daemon=True)
        reader.start()
        # A workflow that ended between two watches is not in the new one's listing (it no
        # longer matches the selector): one sync pass, once this watch is likely open, copies it
        # now rather than at beat's next pass.
        self.stopping.wait(CATCH_UP_DELAY)
        catch_up()
        ended = False
        while not ended:
            first = events.get()
            batch = [first]
            time.sleep(BATCH_SECONDS)
            while True:
                try:
                    batch.append(events.get_nowait())
                except queue.Empty:
                    break
            workflows: dict[tuple[str, str], dict[str, Any]] = {}
            error: BaseException | None = None
            for item in batch:
                if item is None:
                    ended = True
                elif isinstance(item, BaseException):
                    error = item
                else:
                    workflow = _workflow_of(item)
                    if workflow is not None:
                        meta = workflow.get("metadata") or {}
                        workflows[(meta.get("namespace", ""), meta.get("name", ""))] = workflow
            if workflows:
                write_batch(list(workflows.values()))
                self.batches += 1
            if error is not None:
                raise error
        reader.join(timeout=1)


def _workflow_of(event: dict[str, Any]) -> dict[str, Any] | None:
    """The workflow an event carries, if the sync should copy it. A DELETED one left the
    active selection: it completed, or was deleted while it ran. The embedded engine sends
    the completed state; Kubernetes' watch sends the object as it last matched (not final):
    then it is asked for once. One deleted while it ran is left to beat's pass (it marks the
    run gone)."""
    workflow = event.get("object") or {}
    meta = workflow.get("metadata") or {}
    if not meta.get("name"):
        return None
    if event.get("type") != "DELETED":
        return workflow
    if (workflow.get("status") or {}).get("phase") in WORKFLOW_FINAL_PHASES:
        return workflow
    try:
        return get_client().get_workflow(
            meta["name"], namespace=meta.get("namespace"), fields=GET_SYNC_FIELDS
        )
    except ArgoError:
        return None  # gone: beat's pass finds out


_started: WorkflowWatcher | None = None


def start_watcher(**kwargs: Any) -> WorkflowWatcher | None:
    """Start this process's watcher (beat's `beat_init` signal); once, and only with Redis
    (the lead lives there) and the setting on."""
    global _started
    if _started is not None or not settings.YDP_WATCH_WORKFLOWS or not settings.REDIS_URL:
        return _started
    _started = WorkflowWatcher(settings.ARGO_NAMESPACE)
    _started.start()
    return _started
