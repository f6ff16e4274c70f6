"""Running workflows: DAG/steps, parameters, artifacts, loops, when, retry, deadlines,
stop/terminate, suspend/resume and logs, all through the HTTP API."""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time

import requests

from .conftest import NS, Client, container, step_lines, workflow


def by_display(wf: dict) -> dict[str, dict]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values()}


def test_dag_diamond_with_parameters(api: Client) -> None:
    echo = {
        "name": "echo",
        "inputs": {"parameters": [{"name": "msg"}]},
        "outputs": {"parameters": [{"name": "out", "valueFrom": {"path": "/tmp/out"}}]},
        "container": {
            "image": "alpine:3.23",
            "command": ["sh", "-c"],
            "args": ["echo {{inputs.parameters.msg}} | tee /tmp/out"],
        },
    }

    def task(name, msg, deps=None):
        t = {
            "name": name,
            "template": "echo",
            "arguments": {"parameters": [{"name": "msg", "value": msg}]},
        }
        if deps:
            t["dependencies"] = deps
        return t

    dag = {
        "name": "diamond",
        "dag": {
            "tasks": [
                task("A", "{{workflow.parameters.word}}"),
                task("B", "b-{{tasks.A.outputs.parameters.out}}", ["A"]),
                task("C", "c-{{tasks.A.outputs.result}}", ["A"]),
                task(
                    "D",
                    "{{tasks.B.outputs.parameters.out}}+{{tasks.C.outputs.parameters.out}}",
                    ["B", "C"],
                ),
            ]
        },
    }
    wf = api.run(
        workflow(
            "diamond", [dag, echo], arguments={"parameters": [{"name": "word", "value": "hi"}]}
        )
    )
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    nodes = by_display(wf)
    assert nodes["D"]["outputs"]["parameters"][0]["value"] == "b-hi+c-hi"
    assert wf["status"]["progress"] == "4/4"
    root = nodes[wf["metadata"]["name"]]
    assert root["type"] == "DAG" and root["id"] == wf["metadata"]["name"]
    assert nodes["A"]["id"] in root["children"]
    assert sorted(nodes["A"]["children"]) == sorted([nodes["B"]["id"], nodes["C"]["id"]])
    assert nodes["D"]["boundaryID"] == root["id"] and nodes["D"]["type"] == "Pod"
    assert root["outboundNodes"] == [nodes["D"]["id"]]
    assert nodes["D"]["outputs"]["exitCode"] == "0"
    assert nodes["D"]["resourcesDuration"]["cpu"] >= 1


def test_artifacts_pass_between_steps_and_are_served(api: Client) -> None:
    gen = container(
        "gen",
        "mkdir -p /tmp/dir && echo one > /tmp/dir/a && echo payload > /tmp/f",
        outputs={
            "artifacts": [
                {"name": "file", "path": "/tmp/f"},
                {"name": "dir", "path": "/tmp/dir"},
                {"name": "plain", "path": "/tmp/f", "archive": {"none": {}}},
                {"name": "absent", "path": "/tmp/nothing", "optional": True},
            ]
        },
    )
    use = container(
        "use",
        "cat /tmp/in/f /tmp/in/dir/a /tmp/raw",
        inputs={
            "artifacts": [
                {"name": "f", "path": "/tmp/in/f"},
                {"name": "d", "path": "/tmp/in/dir"},
                {"name": "r", "path": "/tmp/raw", "raw": {"data": "rawdata"}},
            ]
        },
    )
    steps = {
        "name": "main",
        "steps": [
            [{"name": "gen", "template": "gen"}],
            [
                {
                    "name": "use",
                    "template": "use",
                    "arguments": {
                        "artifacts": [
                            {"name": "f", "from": "{{steps.gen.outputs.artifacts.file}}"},
                            {"name": "d", "from": "{{steps.gen.outputs.artifacts.dir}}"},
                        ]
                    },
                }
            ],
        ],
    }
    wf = api.run(workflow("main", [steps, gen, use]))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    nodes = by_display(wf)
    assert nodes["use"]["outputs"]["result"] == "payload\none\nrawdata"
    arts = {a["name"]: a for a in nodes["gen"]["outputs"]["artifacts"]}
    assert set(arts) == {"file", "dir", "plain"}
    assert arts["file"]["s3"]["key"].endswith("/file.tgz")
    name, gen_id = wf["metadata"]["name"], nodes["gen"]["id"]
    base = f"{api.base}/artifact-files/{NS}/workflows/{name}/{gen_id}/outputs"
    assert requests.get(f"{base}/file", timeout=10).content == b"payload\n"
    assert requests.get(f"{base}/plain", timeout=10).content == b"payload\n"
    tgz = requests.get(f"{base}/dir", timeout=10).content
    with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:
        assert "dir/a" in tar.getnames()
    assert requests.get(f"{base}/absent", timeout=10).status_code == 404
    use_id = nodes["use"]["id"]
    raw = requests.get(
        f"{api.base}/artifact-files/{NS}/workflows/{name}/{use_id}/inputs/r", timeout=10
    )
    assert raw.content == b"rawdata"


def test_with_items_fan_out_and_when(api: Client) -> None:
    show = {
        "name": "show",
        "inputs": {"parameters": [{"name": "n"}]},
        "script": {
            "image": "python:alpine3.23",
            "command": ["python"],
            "source": "print({{inputs.parameters.n}} * 10)",
        },
    }
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {
                    "name": "fan",
                    "template": "show",
                    "withItems": [1, 2, 3],
                    "arguments": {"parameters": [{"name": "n", "value": "{{item}}"}]},
                },
                {
                    "name": "maps",
                    "template": "show",
                    "depends": "fan",
                    "withItems": [{"v": 4, "go": "yes"}, {"v": 5, "go": "no"}],
                    "when": "{{item.go}} == yes",
                    "arguments": {"parameters": [{"name": "n", "value": "{{item.v}}"}]},
                },
                {
                    "name": "sum",
                    "template": "show",
                    "depends": "fan.Succeeded",
                    "when": "{{tasks.fan.status}} == Succeeded",
                    "arguments": {
                        "parameters": [{"name": "n", "value": "len({{tasks.fan.outputs.result}})"}]
                    },
                },
                {
                    "name": "never",
                    "template": "show",
                    "depends": "fan.Failed",
                    "arguments": {"parameters": [{"name": "n", "value": "0"}]},
                },
            ]
        },
    }
    wf = api.run(workflow("main", [dag, show]))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    nodes = by_display(wf)
    assert nodes["fan"]["type"] == "TaskGroup" and len(nodes["fan"]["children"]) == 3
    assert nodes["fan(1:2)"]["outputs"]["result"] == "20"
    assert nodes["maps(0:go:yes,v:4)"]["outputs"]["result"] == "40"
    assert nodes["maps(1:go:no,v:5)"]["phase"] == "Skipped"
    assert nodes["sum"]["outputs"]["result"] == "30"  # len([10, 20, 30]) * 10
    assert nodes["never"]["phase"] == "Omitted"


def test_retry_until_success_with_backoff(api: Client) -> None:
    flaky = container(
        "flaky",
        "echo try {{retries}}; [ {{retries}} -ge 2 ]",
        retryStrategy={"limit": "3", "backoff": {"duration": "1", "factor": "1"}},
    )
    wf = api.run(workflow("flaky", [flaky]))
    assert wf["status"]["phase"] == "Succeeded"
    nodes = by_display(wf)
    retry = nodes[wf["metadata"]["name"]]
    assert retry["type"] == "Retry" and len(retry["children"]) == 3
    assert [wf["status"]["nodes"][c]["phase"] for c in retry["children"]] == [
        "Failed",
        "Failed",
        "Succeeded",
    ]
    assert nodes[f"{wf['metadata']['name']}(0)"]["message"] == "Error (exit code 1)"
    gone = container("gone", "exit 3", retryStrategy={"limit": 1})
    wf = api.run(workflow("gone", [gone]))
    assert wf["status"]["phase"] == "Failed"
    assert "No more retries left" in wf["status"]["message"]


def test_step_and_workflow_deadlines(api: Client) -> None:
    slow = container("slow", "sleep 30", activeDeadlineSeconds=1)
    t0 = time.time()
    wf = api.run(workflow("slow", [slow]), timeout=15)
    assert time.time() - t0 < 10
    assert wf["status"]["phase"] == "Failed"
    assert "deadline" in by_display(wf)[wf["metadata"]["name"]]["message"]
    wf = api.run(
        workflow("slow", [container("slow", "sleep 30")], activeDeadlineSeconds=1), timeout=15
    )
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == "Max duration limit exceeded"


def test_terminate_mid_run_kills_the_step(api: Client) -> None:
    name = api.create(
        workflow("main", [container("main", "echo started; sleep 60")], onExit="bye")
    )["metadata"]["name"]
    wf = api.get(name)
    deadline = time.time() + 10
    while not any(
        n["phase"] == "Running" and n["type"] == "Pod" for n in wf["status"]["nodes"].values()
    ):
        assert time.time() < deadline
        time.sleep(0.1)
        wf = api.get(name)
    api.call(
        "PUT",
        f"/api/v1/workflows/{NS}/{name}/terminate",
        "io.argoproj.workflow.v1alpha1.Workflow",
        json={},
    )
    wf = api.wait(name, timeout=10)
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == "Stopped with strategy 'Terminate'"
    assert by_display(wf)[name]["phase"] == "Failed"


def test_stop_runs_the_exit_handler(api: Client) -> None:
    templates = [container("main", "sleep 60"), container("bye", "echo {{workflow.status}}")]
    name = api.create(workflow("main", templates, onExit="bye"))["metadata"]["name"]
    time.sleep(1)
    api.call("PUT", f"/api/v1/workflows/{NS}/{name}/stop", json={})
    wf = api.wait(name, timeout=15)
    exit_node = by_display(wf)[f"{name}.onExit"]
    assert exit_node["phase"] == "Succeeded" and exit_node["outputs"]["result"] == "Failed"


def test_suspend_template_resumes_via_api(api: Client) -> None:
    steps = {
        "name": "main",
        "steps": [[{"name": "wait", "template": "wait"}], [{"name": "after", "template": "after"}]],
    }
    templates = [steps, {"name": "wait", "suspend": {}}, container("after", "echo after")]
    name = api.create(workflow("main", templates))["metadata"]["name"]
    time.sleep(1)
    wf = api.get(name)
    assert wf["status"]["phase"] == "Running"
    assert by_display(wf)["wait"]["type"] == "Suspend"
    api.call("PUT", f"/api/v1/workflows/{NS}/{name}/resume", json={})
    wf = api.wait(name)
    assert wf["status"]["phase"] == "Succeeded"


def test_logs_follow_a_running_step(api: Client) -> None:
    script = "for i in 1 2 3; do echo line $i; sleep 0.5; done; echo oops >&2"
    name = api.create(workflow("main", [container("main", script)]))["metadata"]["name"]
    time.sleep(0.3)
    got, stamps = [], []

    def read() -> None:
        with requests.get(
            f"{api.base}/api/v1/workflows/{NS}/{name}/log",
            stream=True,
            timeout=20,
            params={"logOptions.container": "main", "logOptions.follow": "true", "podName": name},
        ) as resp:
            for line in resp.iter_lines():
                entry = json.loads(line)["result"]
                api.check(entry, "io.argoproj.workflow.v1alpha1.LogEntry")
                got.append(entry)
                stamps.append(time.time())

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(20)
    assert step_lines([e["content"] for e in got]) == ["line 1", "line 2", "line 3", "oops"]
    assert stamps[-1] - stamps[1] > 0.4  # lines arrived as they were written
    assert got[0]["podName"] == name
    tail = requests.get(
        f"{api.base}/api/v1/workflows/{NS}/{name}/log",
        timeout=10,
        params={"logOptions.tailLines": "1", "podName": name},
    )
    assert [json.loads(x)["result"]["content"] for x in tail.text.splitlines()] == ["oops"]


def test_retry_and_resubmit_api(api: Client) -> None:
    steps = {
        "name": "main",
        "steps": [[{"name": "ok", "template": "ok"}], [{"name": "bad", "template": "bad"}]],
    }
    templates = [
        steps,
        container("ok", "echo ok"),
        container("bad", "[ -f /tmp/never ] || exit {{workflow.parameters.code}}"),
    ]
    wf = api.run(
        workflow("main", templates, arguments={"parameters": [{"name": "code", "value": "2"}]})
    )
    assert wf["status"]["phase"] == "Failed"
    name = wf["metadata"]["name"]
    ok_started = by_display(wf)["ok"]["startedAt"]
    api.call("PUT", f"/api/v1/workflows/{NS}/{name}/retry", json={})
    again = api.wait(name)
    assert again["status"]["phase"] == "Failed"
    assert by_display(again)["ok"]["startedAt"] == ok_started  # kept, not re-run
    new = api.call("PUT", f"/api/v1/workflows/{NS}/{name}/resubmit", json={})
    assert new["metadata"]["name"] != name
    assert new["metadata"]["labels"]["workflows.argoproj.io/resubmitted-from-workflow"] == name
