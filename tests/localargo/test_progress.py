"""Self-reported progress: a step writes N/M to $ARGO_PROGRESS_FILE (Argo's progress_test.go
TestLoggedProgress), over real HTTP."""

from __future__ import annotations

import time

from .conftest import Client, container, workflow
from .test_run import by_display


def test_a_step_reports_progress_while_it_runs_and_is_complete_when_it_succeeds(
    api: Client,
) -> None:
    step = container(
        "work",
        'echo 0/4 > "$ARGO_PROGRESS_FILE"; sleep 1; echo 2/4 > "$ARGO_PROGRESS_FILE"; sleep 3',
    )
    junk = container("junk", 'echo "half done" > "$ARGO_PROGRESS_FILE"')
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "progress", "template": "work"},
                {"name": "junk", "template": "junk"},
            ]
        },
    }
    name = api.create(workflow("main", [dag, step, junk]))["metadata"]["name"]
    deadline = time.time() + 20
    seen = set()
    while time.time() < deadline:
        wf = api.get(name)
        node = by_display(wf).get("progress")
        if node and node["phase"] == "Running":
            seen.add(node["progress"])
        if wf["status"].get("phase") not in (None, "Pending", "Running"):
            break
        time.sleep(0.2)
    assert "2/4" in seen, seen  # read while it ran
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    nodes = by_display(wf)
    assert nodes["progress"]["progress"] == "4/4"  # succeeded: complete
    assert nodes["junk"]["progress"] == "1/1"  # not N/M: counted as one pod
    assert nodes[name]["progress"] == "5/5"  # the DAG sums its pods
    assert wf["status"]["progress"] == "5/5"


def test_one_walk_keeps_earlier_reports_and_sums_the_pods_resources() -> None:
    """fill_progress after every pass: a pod's N/M reported in an earlier pass (its file no
    longer read) stays, a fresh report wins over it, a success completes it, and the pods'
    resourcesDuration is summed in the same walk."""
    from ydpipelines.localargo.nodes import fill_progress

    def pod(phase: str, progress: str | None, cpu: int) -> dict:
        node = {"type": "Pod", "phase": phase, "boundaryID": "dag"}
        if progress is not None:
            node["progress"] = progress
        node["resourcesDuration"] = {"cpu": cpu, "memory": 2 * cpu}
        return node

    nodes = {
        "dag": {"type": "DAG", "phase": "Running", "boundaryID": ""},
        "kept": pod("Running", "2/4", 1),
        "fresh": pod("Running", "1/10", 2),
        "won": pod("Succeeded", "0/1", 3),
        "plain": pod("Pending", None, 4),
    }
    assert fill_progress(nodes, {"fresh": (7, 10), "won": (0, 1)}) == (10, 16, 10, 20)
    assert nodes["kept"]["progress"] == "2/4"
    assert nodes["fresh"]["progress"] == "7/10"
    assert nodes["won"]["progress"] == "1/1"
    assert nodes["plain"]["progress"] == "0/1"
    assert nodes["dag"]["progress"] == "10/16"
