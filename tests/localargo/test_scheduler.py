"""Admission against the machine's capacity (scheduler.py), through the engine's HTTP API:
an engine told it has 2 CPUs, 1Gi of memory and no GPU."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.processes import EngineProcess

from .conftest import NS, Client, container, workflow

WAITS = "Unschedulable: 0/1 nodes are available: 1 Insufficient cpu. (cpu: requested 1.5, free 0.5)"


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> EngineProcess:
    proc = EngineProcess(
        tmp_path_factory.mktemp("small"),
        extra=["--capacity-cpu", "2", "--capacity-memory", "1Gi", "--capacity-gpu", "0"],
    ).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def api(small, swagger) -> Client:
    return Client(small.url, swagger)


def sized(name: str, script: str, **resources) -> dict:
    tmpl = container(name, script)
    tmpl["container"]["resources"] = resources
    return tmpl


NOTE = "image busybox not used: the engine runs with --executor host"
TIMED = "date +%s%N; sleep {s}; date +%s%N"


def pods(wf: dict) -> dict[str, dict]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"}


def span(node: dict) -> tuple[int, int]:
    start, end = node["outputs"]["result"].split()
    return int(start), int(end)


def wait_node(api: Client, name: str, display: str, check, seconds: float = 20) -> dict:
    deadline = time.time() + seconds
    while True:
        node = pods(api.get(name)).get(display)
        if node is not None and check(node):
            return node
        if time.time() > deadline:
            raise AssertionError(f"{display}: {node}")
        time.sleep(0.05)


def test_two_steps_of_one_and_a_half_cpu_run_one_after_the_other(api: Client) -> None:
    # a asks through requests, b through limits only (Kubernetes then requests the limit)
    a = sized("a", TIMED.format(s=3), requests={"cpu": "1500m"}, limits={"cpu": "2"})
    # Both last 3 s: the two are independent, so either may start first, and the other must
    # still be seen waiting however busy the machine (at load 25 a 2 s step once ended before
    # the test's next look).
    b = sized("b", TIMED.format(s=3), limits={"cpu": "1.5"})
    dag = {
        "name": "main",
        "dag": {"tasks": [{"name": "a", "template": "a"}, {"name": "b", "template": "b"}]},
    }
    name = api.create(workflow("main", [dag, a, b]))["metadata"]["name"]
    deadline = time.time() + 20
    while not any(n["phase"] == "Running" for n in pods(api.get(name)).values()):
        assert time.time() < deadline, api.get(name)["status"]
        time.sleep(0.05)
    now = pods(api.get(name))
    (other,) = [n for n in now.values() if n["phase"] != "Running"]
    assert other["phase"] == "Pending"
    assert other["message"] == WAITS
    wf = api.wait(name, timeout=30)
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    done = pods(wf)
    first, second = sorted((span(done["a"]), span(done["b"])))
    assert second[0] >= first[1], "the second started before the first ended"


def test_a_waiting_step_says_why_in_kubernetes_words(api: Client) -> None:
    # The holder runs until the test terminates it: on a busy machine a holder that ended by
    # itself (it once slept 3 s) could free the CPUs before the checks below.
    hold = api.create(workflow("main", [sized("main", "sleep 120", requests={"cpu": "1.5"})]))
    held = hold["metadata"]["name"]
    wait_node(api, held, held, lambda n: n["phase"] == "Running")
    name = api.create(workflow("main", [sized("main", "true", requests={"cpu": "1.5"})]))
    name = name["metadata"]["name"]
    node = wait_node(api, name, name, lambda n: "message" in n)
    assert node["phase"] == "Pending"
    assert node["message"] == WAITS
    # a smaller step is not held behind it (Kubernetes reserves nothing for a waiting pod)
    small = api.run(workflow("main", [sized("main", "true", requests={"cpu": "0.5"})]))
    assert small["status"]["phase"] == "Succeeded"
    assert pods(api.get(name))[name]["phase"] == "Pending"
    api.call("PUT", f"/api/v1/workflows/{NS}/{held}/terminate", json={})  # frees its CPUs
    wf = api.wait(name, timeout=20)
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    assert pods(wf)[name]["message"] == NOTE  # the wait's reason is gone
    assert api.wait(held)["status"]["phase"] == "Failed"  # terminated


def test_memory_waits_likewise(api: Client) -> None:
    hold = sized("main", "sleep 120", requests={"memory": "800Mi"})  # until terminated below
    held = api.create(workflow("main", [hold]))["metadata"]["name"]
    wait_node(api, held, held, lambda n: n["phase"] == "Running")
    name = api.create(workflow("main", [sized("main", "true", limits={"memory": "512Mi"})]))
    name = name["metadata"]["name"]
    node = wait_node(api, name, name, lambda n: "message" in n)
    assert node["message"] == (
        "Unschedulable: 0/1 nodes are available: 1 Insufficient memory. "
        "(memory: requested 512Mi, free 224Mi)"
    )
    api.call("PUT", f"/api/v1/workflows/{NS}/{held}/terminate", json={})
    assert api.wait(name, timeout=20)["status"]["phase"] == "Succeeded"


@pytest.mark.parametrize(
    ("resources", "words"),
    [
        (
            {"requests": {"cpu": "64"}},
            "1 Insufficient cpu. (cpu: requested 64, the machine has 2: it can never run here)",
        ),
        (
            {"requests": {"memory": "4Gi", "cpu": "64"}},
            "1 Insufficient cpu, 1 Insufficient memory. (cpu: requested 64, the machine has 2; "
            "memory: requested 4Gi, the machine has 1Gi: it can never run here)",
        ),
        (
            {"limits": {"nvidia.com/gpu": "1"}},
            "1 Insufficient nvidia.com/gpu. (nvidia.com/gpu: requested 1, the machine has 0: "
            "it can never run here)",
        ),
    ],
    ids=["cpu", "memory", "gpu"],
)
def test_a_step_that_can_never_fit_fails_at_once(api: Client, resources, words) -> None:
    started = time.time()
    wf = api.run(workflow("main", [sized("main", "sleep 30", **resources)]), timeout=10)
    assert time.time() - started < 5
    node = pods(wf)[wf["metadata"]["name"]]
    assert node["phase"] == "Error"
    assert node["message"] == f"Unschedulable: 0/1 nodes are available: {words}"
    assert wf["status"]["phase"] == "Error"


def test_a_request_that_is_not_a_quantity_errors_the_step(api: Client) -> None:
    wf = api.run(workflow("main", [sized("main", "true", requests={"cpu": "lots"})]), timeout=10)
    node = pods(wf)[wf["metadata"]["name"]]
    assert node["phase"] == "Error"
    assert node["message"] == "resources: cpu 'lots' is not a quantity such as 500m or 2"


def test_a_bad_capacity_is_refused(tmp_path) -> None:
    proc = EngineProcess(tmp_path, extra=["--capacity-memory", "lots"])
    with pytest.raises(RuntimeError, match="--capacity: memory 'lots' is not a quantity"):
        proc.start()


def log_lines(api: Client, name: str, pod: str) -> list[str]:
    resp = requests.get(
        f"{api.base}/api/v1/workflows/{NS}/{name}/log", params={"podName": pod}, timeout=30
    )
    return [json.loads(line)["result"]["content"] for line in resp.text.splitlines() if line]


def test_the_host_executor_says_the_image_was_not_used(api: Client) -> None:
    wf = api.run(workflow("main", [container("main", "echo hi; exit 3")]))
    node = pods(wf)[wf["metadata"]["name"]]
    assert node["phase"] == "Failed"
    assert log_lines(api, wf["metadata"]["name"], node["id"]) == [NOTE, "hi"]
    assert node["outputs"]["result"] == "hi"


def test_without_a_container_runtime_the_note_says_so(tmp_path, swagger) -> None:
    proc = EngineProcess(
        tmp_path, extra=["--executor", "auto"], env={"YDP_CONTAINER_CLI": "no-such-cli"}
    ).start()
    try:
        api = Client(proc.url, swagger)
        name = api.create(workflow("main", [container("main", "sleep 2")]))["metadata"]["name"]
        node = wait_node(api, name, name, lambda n: n["phase"] == "Running")
        assert node["message"] == "image busybox not used: no container runtime on this machine"
        assert api.wait(name)["status"]["phase"] == "Succeeded"
        assert log_lines(api, name, node["id"])[0] == node["message"]
    finally:
        proc.stop()
