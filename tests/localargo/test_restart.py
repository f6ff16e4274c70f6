"""kill -9 of the engine mid-run, then a restart on the same data dir: nothing is lost."""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests

from tests.processes import EngineProcess, descendants, gone

from .conftest import NS, Client, container, workflow


def wait_running(api: Client, name: str, display: str) -> None:
    deadline = time.time() + 15
    while time.time() < deadline:
        nodes = api.get(name)["status"]["nodes"].values()
        if any(n["displayName"] == display and n["phase"] == "Running" for n in nodes):
            return
        time.sleep(0.1)
    raise AssertionError(f"{display} never started")


def wait_written(data: Path, name: str, display: str) -> None:
    """Until the engine's file of the workflow says the step runs. The engine writes a running
    workflow every 0.2 s or so: a kill -9 before that loses the launch from its records, and the
    restarted engine runs the step again (as a controller that died before recording a pod
    creates it again), where this test checks what happens to a step it knew was running."""
    deadline = time.time() + 15
    while time.time() < deadline:
        for path in data.rglob(f"workflows/*/{name}.json"):
            try:
                nodes = json.loads(path.read_bytes())["status"].get("nodes", {}).values()
            except (OSError, ValueError, KeyError):
                continue
            if any(n["displayName"] == display and n["phase"] == "Running" for n in nodes):
                return
        time.sleep(0.05)
    raise AssertionError(f"{display} never written as running")


def test_kill9_and_restart(tmp_path, swagger) -> None:
    proc = EngineProcess(tmp_path).start()
    api = Client(proc.url, swagger)
    first = container(
        "first",
        "echo first-log; echo kept > /tmp/a",
        outputs={"artifacts": [{"name": "a", "path": "/tmp/a"}]},
    )
    # attempt 0 hangs (and is lost in the crash); the retry finishes quickly
    slow = container(
        "slow", "[ {{retries}} -ge 1 ] || sleep 41.75; echo recovered", retryStrategy={"limit": "2"}
    )
    steps = {
        "name": "main",
        "steps": [[{"name": "first", "template": "first"}], [{"name": "slow", "template": "slow"}]],
    }
    retried = api.create(workflow("main", [steps, first, slow]))["metadata"]["name"]
    plain = api.create(workflow("main", [container("main", "sleep 41.75")]))["metadata"]["name"]
    wait_running(api, retried, "slow(0)")
    wait_running(api, plain, plain)
    wait_written(tmp_path, retried, "slow(0)")
    wait_written(tmp_path, plain, plain)
    # The steps this engine started (its own process tree, not every `sleep` on the machine).
    steps = [pid for pid, name in descendants(proc.proc.pid).items() if name == "sleep"]
    assert len(steps) == 2, descendants(proc.proc.pid)
    proc.kill9()
    assert gone(steps), "step processes must die with the engine"

    proc.start()
    try:
        api = Client(proc.url, swagger)
        wf = api.wait(retried, timeout=20)
        assert wf["status"]["phase"] == "Succeeded", wf["status"]
        nodes = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
        assert nodes["slow(0)"]["phase"] == "Error"
        assert nodes["slow(0)"]["message"] == "step process lost when the engine stopped"
        assert nodes["slow(1)"]["outputs"]["result"] == "recovered"
        lost = api.wait(plain, timeout=20)
        assert lost["status"]["phase"] == "Error"
        assert "lost when the engine stopped" in lost["status"]["message"]
        # the finished step's log and artifact survived the crash
        log = requests.get(
            f"{proc.url}/api/v1/workflows/{NS}/{retried}/log",
            params={"podName": nodes["first"]["id"]},
            timeout=10,
        )
        assert '"first-log"' in log.text
        art = requests.get(
            f"{proc.url}/artifact-files/{NS}/workflows/{retried}/{nodes['first']['id']}/outputs/a",
            timeout=10,
        )
        assert art.content == b"kept\n"
        listed = api.call("GET", f"/api/v1/workflows/{NS}")
        assert {retried, plain} <= {w["metadata"]["name"] for w in listed["items"]}
    finally:
        proc.stop()
