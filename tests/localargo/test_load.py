"""The API keeps answering while the engine is busy (issue 9): GET and list of workflows stay
well under a second while hundreds of steps run, and a long controller pass does not hold
them up (they then answer from what was last written, as Argo Server answers from its
informer's cache)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import requests

from tests.processes import EngineProcess
from ydpipelines.localargo.engine import Engine
from ydpipelines.localargo.server import make_server

from .conftest import NS, container, workflow

STEPS = 200


def fan_out(count: int, script: str, parallelism: int | None = None) -> dict:
    """One steps template looping ``count`` times over ``leaf`` (as Argo's e2e
    loop-sequence-many-long-pods does, with a template parallelism)."""
    main = {
        "name": "main",
        "steps": [[{"name": "s", "template": "leaf", "withSequence": {"count": str(count)}}]],
    }
    if parallelism is not None:
        main["parallelism"] = parallelism
    return workflow("main", [main, container("leaf", script)], prefix="load-")


def test_get_and_list_stay_fast_while_hundreds_of_steps_run(tmp_path: Path) -> None:
    proc = EngineProcess(tmp_path / "engine", extra=["--max-parallel", "8"]).start()
    try:
        http = requests.Session()
        base = f"{proc.url}/api/v1/workflows/{NS}"
        created = http.post(base, json={"workflow": fan_out(STEPS, "echo $0", 1000)}, timeout=10)
        assert created.status_code == 200, created.text
        name = created.json()["metadata"]["name"]
        worst = {"get": 0.0, "list": 0.0}
        phase, deadline = "", time.time() + 240
        while phase not in ("Succeeded", "Failed", "Error") and time.time() < deadline:
            for kind, url in (("get", f"{base}/{name}"), ("list", base)):
                started = time.monotonic()
                resp = http.get(url, timeout=30)
                worst[kind] = max(worst[kind], time.monotonic() - started)
                assert resp.status_code == 200, resp.text
            phase = http.get(f"{base}/{name}", timeout=30).json()["status"].get("phase", "")
            time.sleep(0.05)
        wf = http.get(f"{base}/{name}", timeout=30).json()
        assert phase == "Succeeded", wf["status"].get("message")
        assert wf["status"]["progress"] == f"{STEPS}/{STEPS}"
        assert worst["get"] < 1.0 and worst["list"] < 1.0, worst
    finally:
        proc.stop()


def test_a_long_pass_does_not_hold_up_reads_and_a_write_is_read_back(tmp_path: Path) -> None:
    engine = Engine(tmp_path / "data", max_parallel=2)
    server = make_server(engine, "127.0.0.1", 0, None)
    engine.start()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/api/v1/workflows/{NS}"
    try:
        wf = workflow("main", [container("main", "sleep 30")], prefix="held-")
        name = requests.post(base, json={"workflow": wf}, timeout=10).json()["metadata"]["name"]
        suspended = requests.put(f"{base}/{name}/suspend", json={}, timeout=10).json()
        release = threading.Event()

        def long_pass() -> None:
            with engine.lock:
                release.wait(10)

        holder = threading.Thread(target=long_pass)
        holder.start()
        try:
            time.sleep(0.2)  # the "pass" holds the lock now
            started = time.monotonic()
            got = requests.get(f"{base}/{name}", timeout=10)
            listed = requests.get(base, params={"fields": "items.metadata.name"}, timeout=10)
            took = time.monotonic() - started
        finally:
            release.set()
            holder.join()
        assert got.status_code == 200 and listed.status_code == 200
        assert took < 1.0
        # what the suspend wrote is what the reader sees, not an older version
        rv = suspended["metadata"]["resourceVersion"]
        assert int(got.json()["metadata"]["resourceVersion"]) >= int(rv)
        assert got.json()["spec"].get("suspend") is True
        assert [w["metadata"]["name"] for w in listed.json()["items"]] == [name]
        missing = requests.get(f"{base}/nope", timeout=10)
        assert missing.status_code == 404
    finally:
        for key in list(engine.executor.running):
            engine.kill_step(*key, "test over")
        server.shutdown()
        engine.stop()


def test_a_pass_over_thousands_of_waiting_steps_is_linear(tmp_path: Path) -> None:
    """5,000 loop items behind 2 slots: a pass costs O(items), not O(items^2) (it took
    minutes for Argo's 10,000-item e2e loop before)."""
    engine = Engine(tmp_path / "data", max_parallel=2)
    try:
        wf = engine.create_workflow(NS, fan_out(5000, "sleep 30", 7000))
        key = (NS, wf["metadata"]["name"])
        with engine.lock:
            engine._operate(key)  # creates the nodes, starts two
            started = time.monotonic()
            engine._operate(key)
            took = time.monotonic() - started
            nodes = engine.store.get("workflows", *key)["status"]["nodes"]
        running = [n for n in nodes.values() if n["type"] == "Pod" and n["phase"] == "Running"]
        assert len(nodes) == 5002 and len(running) == 2
        assert took < 5.0, took
    finally:
        for key in list(engine.executor.running):
            engine.kill_step(*key, "test over")
        engine.stop()


def test_the_pass_that_creates_thousands_of_pods_is_linear(tmp_path: Path) -> None:
    """The first pass over Argo's e2e loop-sequence-many-long-pods creates 7,000 pod nodes,
    each checked against the workflow's and the template's parallelism first. Scanning the
    nodes for that check made the pass quadratic (38 s for 10,000 items, every other
    workflow waiting on the engine's lock: e2e continue-on-failed "hung" beside it); the
    live pods are counted instead."""
    engine = Engine(tmp_path / "data", max_parallel=2)
    try:
        spec = fan_out(5000, "sleep 30", 7000)
        spec["spec"]["parallelism"] = 6000  # the workflow's limit is checked too
        wf = engine.create_workflow(NS, spec)
        key = (NS, wf["metadata"]["name"])
        with engine.lock:
            started = time.monotonic()
            engine._operate(key)
            took = time.monotonic() - started
            nodes = engine.store.get("workflows", *key)["status"]["nodes"]
        pods = [n for n in nodes.values() if n["type"] == "Pod"]
        assert len(pods) == 5000  # under both limits: every pod node exists
        assert sum(1 for n in pods if n["phase"] == "Running") == 2  # two slots
        assert took < 5.0, took
    finally:
        for key in list(engine.executor.running):
            engine.kill_step(*key, "test over")
        engine.stop()
