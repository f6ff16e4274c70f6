"""The engine's state on disk: one JSON file per object, written atomically (temp + rename).

Objects live in memory (the engine is the only writer); changed ones are flushed by a
background thread every few hundred milliseconds, and at once on create/delete so that an
accepted request survives a kill -9.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

KINDS = ("workflows", "cronworkflows", "workflowtemplates", "clusterworkflowtemplates", "archive")
# Kinds whose last written version is also kept parsed, for reads that must not wait for the
# engine lock while a long controller pass holds it (see Engine.reading).
COMMITTED_KINDS = ("workflows",)
GONE = 1 << 62  # the version of a deleted object: no older write may bring it back


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


class Store:
    """In-memory maps of the engine's objects, mirrored to ``<data>/<kind>/<ns>/<name>.json``."""

    def __init__(self, data_dir: Path, lock: threading.RLock) -> None:
        self.root = Path(data_dir)
        self.lock = lock
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {k: {} for k in KINDS}
        self.dirty: set[tuple[str, str, str]] = set()
        self._version = int(time.time() * 1000)
        self._stop = threading.Event()
        # Writes of one object may race (flusher vs. an immediate put): the newest version wins.
        self._io_lock = threading.Lock()
        self._written: dict[tuple[str, str, str], int] = {}
        # (kind, ns, name) -> (version, object, its JSON) as last written; read without the
        # engine lock, never mutated (a newer write replaces the tuple)
        self._committed: dict[tuple[str, str, str], tuple[int, dict[str, Any], bytes]] = {}
        # called as (kind, ns, name, deleted object or None) on every change; see watch.py
        self.listeners: list[Callable[[str, str, str, dict[str, Any] | None], None]] = []
        self._load()

    def _changed(self, kind: str, ns: str, name: str, deleted: dict[str, Any] | None) -> None:
        for listener in self.listeners:
            listener(kind, ns, name, deleted)

    def _path(self, kind: str, ns: str, name: str) -> Path:
        return self.root / kind / (ns or "_cluster") / f"{name}.json"

    def _load(self) -> None:
        for kind in KINDS:
            base = self.root / kind
            if not base.is_dir():
                continue
            for path in base.glob("*/*.json"):
                try:
                    blob = path.read_bytes()
                    obj = json.loads(blob)
                except (OSError, ValueError):
                    continue  # a half-written temp never has the .json name; skip junk
                ns = "" if path.parent.name == "_cluster" else path.parent.name
                self.objects[kind][(ns, path.stem)] = obj
                if kind in COMMITTED_KINDS:
                    version = int((obj.get("metadata") or {}).get("resourceVersion") or 0)
                    self._committed[(kind, ns, path.stem)] = (version, json.loads(blob), blob)

    def next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def version(self) -> str:
        """The newest resourceVersion handed out (read without the lock)."""
        return str(self._version)

    def get(self, kind: str, ns: str, name: str) -> dict[str, Any] | None:
        return self.objects[kind].get((ns, name))

    def put(self, kind: str, ns: str, name: str, obj: dict[str, Any], now: bool = False) -> None:
        obj.setdefault("metadata", {})["resourceVersion"] = self.next_version()
        self.objects[kind][(ns, name)] = obj
        with self._io_lock:
            if self._written.get((kind, ns, name)) == GONE:
                del self._written[(kind, ns, name)]  # re-created after a delete
        if now:
            self._write(kind, ns, name, obj)
            self.dirty.discard((kind, ns, name))
        else:
            self.dirty.add((kind, ns, name))
        self._changed(kind, ns, name, None)

    def touch(self, kind: str, ns: str, name: str) -> None:
        obj = self.objects[kind].get((ns, name))
        if obj is not None:
            obj["metadata"]["resourceVersion"] = self.next_version()
            self.dirty.add((kind, ns, name))
            self._changed(kind, ns, name, None)

    def delete(self, kind: str, ns: str, name: str) -> dict[str, Any] | None:
        obj = self.objects[kind].pop((ns, name), None)
        self.dirty.discard((kind, ns, name))
        with self._io_lock:
            self._written[(kind, ns, name)] = GONE  # a pending flush must not resurrect it
            self._committed.pop((kind, ns, name), None)
            with contextlib.suppress(FileNotFoundError):
                self._path(kind, ns, name).unlink()
        if obj is not None:
            self._changed(kind, ns, name, obj)
        return obj

    def items(self, kind: str, ns: str | None = None) -> list[dict[str, Any]]:
        return [o for (n, _), o in self.objects[kind].items() if ns in (None, "", n)]

    def committed(self, kind: str, ns: str, name: str) -> tuple[dict[str, Any], bytes] | None:
        """The object as last written, and its JSON; safe to read without the engine lock
        (do not mutate it). Only for COMMITTED_KINDS."""
        entry = self._committed.get((kind, ns, name))
        return None if entry is None else (entry[1], entry[2])

    def committed_items(self, kind: str, ns: str | None = None) -> list[dict[str, Any]]:
        entries = list(self._committed.items())
        return [obj for (k, n, _), (_, obj, _) in entries if k == kind and ns in (None, "", n)]

    def commit(self, kind: str, ns: str, name: str) -> None:
        """Write the object now (call under the engine lock): an API change is then on disk,
        and what lock-free readers see, before the call answers."""
        obj = self.objects[kind].get((ns, name))
        if obj is not None:
            self._write(kind, ns, name, obj)
            self.dirty.discard((kind, ns, name))

    def _write(self, kind: str, ns: str, name: str, obj: dict[str, Any]) -> None:
        blob = json.dumps(obj, separators=(",", ":")).encode()
        self._write_blob(kind, ns, name, int(obj["metadata"]["resourceVersion"]), blob)

    def _write_blob(self, kind: str, ns: str, name: str, version: int, blob: bytes) -> None:
        with self._io_lock:
            key = (kind, ns, name)
            if self._written.get(key, -1) >= version:
                return
            self._written[key] = version
            atomic_write(self._path(kind, ns, name), blob)
            if kind in COMMITTED_KINDS:
                self._committed[key] = (version, json.loads(blob), blob)

    def flush(self) -> None:
        with self.lock:
            batch = [(k, self.objects[k].get((ns, n)), ns, n) for k, ns, n in self.dirty]
            self.dirty.clear()
            blobs = [
                (
                    k,
                    ns,
                    n,
                    int(o["metadata"]["resourceVersion"]),
                    json.dumps(o, separators=(",", ":")).encode(),
                )
                for k, o, ns, n in batch
                if o is not None
            ]
        for kind, ns, name, version, blob in blobs:
            if (ns, name) in self.objects[kind]:  # deleted meanwhile: leave it deleted
                self._write_blob(kind, ns, name, version, blob)

    def run_flusher(self, interval: float = 0.2) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                with contextlib.suppress(OSError):  # disk trouble: retried next tick
                    self.flush()

        threading.Thread(target=loop, name="store-flush", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self.flush()
