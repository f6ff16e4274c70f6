"""The store's background flush writes a workflow that is costly to serialise less often (at
most about 1/FLUSH_COST_FACTOR of a CPU on it), and parses its committed copy only when read."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from ydpipelines.localargo.store import Store


def _workflow(name: str, phase: str) -> dict:
    return {"metadata": {"name": name, "namespace": "argo"}, "status": {"phase": phase}}


def test_costly_object_flushed_less_often_but_always_at_stop(tmp_path: Path) -> None:
    store = Store(tmp_path, threading.RLock())
    store.put("workflows", "argo", "big", _workflow("big", "Running"), now=True)
    path = tmp_path / "workflows" / "argo" / "big.json"
    store.objects["workflows"][("argo", "big")]["status"]["phase"] = "Succeeded"
    store.touch("workflows", "argo", "big")
    # its last serialisation took a second, just now: the background flush leaves it dirty
    store._flush_cost[("workflows", "argo", "big")] = (time.monotonic(), 1.0)
    store.flush(force=False)
    assert json.loads(path.read_bytes())["status"]["phase"] == "Running"
    assert ("workflows", "argo", "big") in store.dirty
    store.flush()  # what stop() does: everything, whatever it costs
    assert json.loads(path.read_bytes())["status"]["phase"] == "Succeeded"
    assert not store.dirty


def test_cheap_object_flushed_every_tick_and_committed_copy_parsed_when_read(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path, threading.RLock())
    store.put("workflows", "argo", "small", _workflow("small", "Running"), now=True)
    store.objects["workflows"][("argo", "small")]["status"]["phase"] = "Failed"
    store.touch("workflows", "argo", "small")
    store.flush(force=False)
    version, blob = store.committed_json("workflows", "argo", "small")
    assert json.loads(blob)["status"]["phase"] == "Failed"
    assert store._committed[("workflows", "argo", "small")][1] is None  # not parsed yet
    found = store.committed("workflows", "argo", "small")
    assert found is not None and found[0]["status"]["phase"] == "Failed"
    assert found[0]["metadata"]["resourceVersion"] == version
    assert store.committed_items("workflows", "argo") == [found[0]]
    # a restart reads what was written
    again = Store(tmp_path, threading.RLock())
    assert again.get("workflows", "argo", "small")["status"]["phase"] == "Failed"
