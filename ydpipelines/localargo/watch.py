"""Change notification for watch streams (``/api/v1/workflow-events``).

The store calls ``Hub.publish`` on every put/touch/delete (under the engine lock, so it must be
cheap); each watcher has its own condition variable and a set of changed keys, so a burst of
changes to one workflow wakes its watchers once and they send the newest state, not each step.
"""

from __future__ import annotations

import threading
from typing import Any

from .validate import ApiError

Key = tuple[str, str]  # (namespace, name)


class Subscriber:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._cond = threading.Condition(threading.Lock())
        self._changed: dict[Key, dict[str, Any] | None] = {}
        self.closed = False

    def notify(self, key: Key, deleted: dict[str, Any] | None) -> None:
        with self._cond:
            # a delete remembers the last object (it is gone from the store); a later
            # re-create of the same name replaces the entry, and the watcher reads the store
            if deleted is not None or key not in self._changed:
                self._changed[key] = deleted
            self._cond.notify()

    def wait(self, timeout: float) -> dict[Key, dict[str, Any] | None]:
        """The keys that changed since the last call; empty after ``timeout`` seconds."""
        with self._cond:
            if not self._changed and not self.closed:
                self._cond.wait(timeout)
            changed, self._changed = self._changed, {}
            return changed

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify()


class Hub:
    """At most ``limit`` watchers at once: past it, a new watch is refused with 429."""

    def __init__(self, limit: int = 32) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._subs: set[Subscriber] = set()

    def subscribe(self, kind: str) -> Subscriber:
        with self._lock:
            if len(self._subs) >= self.limit:
                raise ApiError(429, f"too many open watches ({self.limit}); close one and retry")
            sub = Subscriber(kind)
            self._subs.add(sub)
            return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        sub.close()
        with self._lock:
            self._subs.discard(sub)

    def count(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, kind: str, ns: str, name: str, deleted: dict[str, Any] | None = None) -> None:
        with self._lock:
            subs = [s for s in self._subs if s.kind == kind]
        for sub in subs:
            sub.notify((ns, name), deleted)

    def close_all(self) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.close()
