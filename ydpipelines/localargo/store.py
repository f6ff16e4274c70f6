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

import orjson

KINDS = ("workflows", "cronworkflows", "workflowtemplates", "clusterworkflowtemplates", "archive")
# Kinds whose last written version is also kept parsed, for reads that must not wait for the
# engine lock while a long controller pass holds it (see Engine.reading).
COMMITTED_KINDS = ("workflows",)
# The background flush spends at most about 1/FLUSH_COST_FACTOR of a CPU serialising any one
# object (see Store.flush); objects that serialise in under 10 ms are written every tick.
FLUSH_COST_FACTOR = 20
GONE = 1 << 62  # the version of a deleted object: no older write may bring it back


def to_json(obj: Any) -> bytes:
    """Compact JSON of an object of the engine: orjson, 5-10x the standard encoder (a
    5,000-node workflow is 2.5 MB, a list of 1,000 running workflows with their nodes 6 MB,
    both made under the engine lock); the standard one for what orjson refuses (an integer
    past 64 bits)."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, separators=(",", ":")).encode()


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
        # (kind, ns, name) -> (when it was last serialised, how long that took): see flush()
        self._flush_cost: dict[tuple[str, str, str], tuple[float, float]] = {}
        self._version = int(time.time() * 1000)
        self._stop = threading.Event()
        # Writes of one object may race (flusher vs. an immediate put): the newest version wins.
        self._io_lock = threading.Lock()
        self._written: dict[tuple[str, str, str], int] = {}
        # (kind, ns, name) -> (version, object, its JSON) as last written; read without the
        # engine lock, never mutated (a newer write replaces the tuple). The object is parsed
        # from the JSON when first read (None until then): a flush writes a big workflow
        # several times a second, and a read of the committed copy is the rare case.
        self._committed: dict[tuple[str, str, str], tuple[int, dict[str, Any] | None, bytes]] = {}
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
                    self._committed[(kind, ns, path.stem)] = (version, None, blob)

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
        self._flush_cost.pop((kind, ns, name), None)
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
        key = (kind, ns, name)
        entry = self._committed.get(key)
        return None if entry is None else (self._parsed(key, entry), entry[2])

    def committed_json(self, kind: str, ns: str, name: str) -> tuple[str, bytes] | None:
        """The resourceVersion and JSON of the object as last written (not parsed)."""
        entry = self._committed.get((kind, ns, name))
        return None if entry is None else (str(entry[0]), entry[2])

    def committed_items(self, kind: str, ns: str | None = None) -> list[dict[str, Any]]:
        entries = list(self._committed.items())
        return [
            self._parsed(key, entry)
            for key, entry in entries
            if key[0] == kind and ns in (None, "", key[1])
        ]

    def _parsed(
        self, key: tuple[str, str, str], entry: tuple[int, dict[str, Any] | None, bytes]
    ) -> dict[str, Any]:
        version, obj, blob = entry
        if obj is None:
            obj = json.loads(blob)
            with self._io_lock:  # kept unless a newer write replaced the entry meanwhile
                if self._committed.get(key) is entry:
                    self._committed[key] = (version, obj, blob)
        return obj

    def commit(self, kind: str, ns: str, name: str) -> None:
        """Write the object now (call under the engine lock): an API change is then on disk,
        and what lock-free readers see, before the call answers."""
        obj = self.objects[kind].get((ns, name))
        if obj is not None:
            self._write(kind, ns, name, obj)
            self.dirty.discard((kind, ns, name))

    def _write(self, kind: str, ns: str, name: str, obj: dict[str, Any]) -> None:
        blob = to_json(obj)
        self._write_blob(kind, ns, name, int(obj["metadata"]["resourceVersion"]), blob)

    def _write_blob(self, kind: str, ns: str, name: str, version: int, blob: bytes) -> None:
        with self._io_lock:
            key = (kind, ns, name)
            if self._written.get(key, -1) >= version:
                return
            self._written[key] = version
            atomic_write(self._path(kind, ns, name), blob)
            if kind in COMMITTED_KINDS:
                self._committed[key] = (version, None, blob)

    def flush(self, force: bool = True) -> None:
        """Write the changed objects. Unless ``force``, an object whose last serialisation
        took long is written at most once every FLUSH_COST_FACTOR times that long: a
        5,000-node workflow (2.5 MB, ~30 ms of CPU to serialise, under the engine lock) was
        written five times a second while it ran, most of its steps' cost."""
        now = time.monotonic()
        blobs = []
        with self.lock:
            deferred = set()
            for key in self.dirty:
                kind, ns, name = key
                obj = self.objects[kind].get((ns, name))
                if obj is None:
                    continue
                last, cost = self._flush_cost.get(key, (0.0, 0.0))
                if not force and now - last < FLUSH_COST_FACTOR * cost:
                    deferred.add(key)
                    continue
                began = time.thread_time()  # CPU: other threads' turns do not count
                blob = to_json(obj)
                self._flush_cost[key] = (now, time.thread_time() - began)
                blobs.append((kind, ns, name, int(obj["metadata"]["resourceVersion"]), blob))
            self.dirty = deferred
        for kind, ns, name, version, blob in blobs:
            if (ns, name) in self.objects[kind]:  # deleted meanwhile: leave it deleted
                self._write_blob(kind, ns, name, version, blob)

    def run_flusher(self, interval: float = 0.2) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                with contextlib.suppress(OSError):  # disk trouble: retried next tick
                    self.flush(force=False)

        threading.Thread(target=loop, name="store-flush", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self.flush()
