"""``GET /api/v1/workflow-events/{ns}``: Argo's workflow watch, as Server-Sent Events.

Like a Kubernetes watch behind Argo Server: with no ``listOptions.resourceVersion`` the current
matching workflows come first as ADDED, then every change as ADDED/MODIFIED/DELETED. With a
resourceVersion, only workflows changed after it are sent (as MODIFIED: the engine keeps no
event history, so a delete before the watch began is not replayed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from .engine import Engine, parse_selector
from .listing import field_selector, trim, with_required
from .validate import ApiError

KEEPALIVE = 15.0  # seconds between SSE comments on a quiet watch; also how a lost client shows


def watch_workflows(
    engine: Engine,
    ns: str,
    query: dict[str, list[str]],
    send: Callable[[str], None],
    keepalive: Callable[[], None],
    gone: Callable[[], bool],
) -> None:
    """Send events until the client goes or ``listOptions.timeoutSeconds`` passes.

    ``send`` writes one serialised ``{"result": {...}}`` frame, ``keepalive`` a comment,
    ``gone`` tells whether the client closed its end. Objects are serialised under the
    engine lock and written outside it, so a slow client never holds up the controller.
    """

    def one(name: str) -> str:
        values = query.get(name)
        return values[0] if values else ""

    labels = parse_selector(one("listOptions.labelSelector"))
    fields_match = field_selector(one("listOptions.fieldSelector"))
    fields = one("fields")
    since = one("listOptions.resourceVersion")
    timeout_raw = one("listOptions.timeoutSeconds")
    try:
        since_rv = int(since) if since else None
        timeout = float(timeout_raw) if timeout_raw else None
    except ValueError:
        raise ApiError(
            400, "listOptions.resourceVersion and timeoutSeconds must be integers"
        ) from None
    ns = ns or ""

    def matches(wf: dict[str, Any]) -> bool:
        in_ns = not ns or wf["metadata"].get("namespace") == ns
        return in_ns and labels(wf) and fields_match(wf)

    def frame(kind: str, wf: dict[str, Any]) -> str:
        obj = trim(wf, _unprefixed(fields)) if fields else with_required(dict(wf), "object")
        return json.dumps({"result": {"type": kind, "object": obj}})

    sub = engine.hub.subscribe("workflows")
    try:
        sent: dict[tuple[str, str], str] = {}  # key -> resourceVersion sent last
        with engine.lock:
            first = []
            for wf in engine.list_workflows(ns):
                if not matches(wf):
                    continue
                rv = wf["metadata"].get("resourceVersion", "")
                key = (wf["metadata"]["namespace"], wf["metadata"]["name"])
                if since_rv is not None and _int(rv) <= since_rv:
                    sent[key] = rv
                    continue
                sent[key] = rv
                first.append(frame("ADDED" if since_rv is None else "MODIFIED", wf))
        for f in reversed(first):  # oldest first, like a watch's initial list
            send(f)
        if not first:
            keepalive()  # headers and a first byte out: the client sees the stream open
        end = time.monotonic() + timeout if timeout else None
        while not gone():
            wait = KEEPALIVE if end is None else min(KEEPALIVE, end - time.monotonic())
            if wait <= 0:
                return
            changed = sub.wait(wait)
            if sub.closed:
                return
            if not changed:
                keepalive()
                continue
            frames = []
            with engine.lock:
                for key, deleted in changed.items():
                    wf = engine.store.get("workflows", *key)
                    if wf is None:
                        if key in sent and deleted is not None and matches(deleted):
                            frames.append(frame("DELETED", deleted))
                        sent.pop(key, None)
                        continue
                    if not matches(wf):
                        if key in sent:  # left the selection (e.g. a label changed)
                            frames.append(frame("DELETED", wf))
                            sent.pop(key)
                        continue
                    rv = wf["metadata"].get("resourceVersion", "")
                    if sent.get(key) == rv:
                        continue
                    frames.append(frame("MODIFIED" if key in sent else "ADDED", wf))
                    sent[key] = rv
            for f in frames:
                send(f)
    finally:
        engine.hub.unsubscribe(sub)


def _unprefixed(fields: str) -> str:
    """The UI asks for ``result.object.metadata.name,...``; Argo strips that prefix."""
    out = []
    for f in fields.split(","):
        f = f.strip()
        neg = f.startswith("-")
        f = f.lstrip("-")
        for prefix in ("result.object.", "object."):
            if f.startswith(prefix):
                f = f[len(prefix) :]
        if f in ("result", "result.type", "type"):
            continue
        out.append(("-" if neg else "") + f)
    return ",".join(out)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
