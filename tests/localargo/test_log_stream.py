"""The log stream over real HTTP: Argo's error frames, and stdout/stderr lines in the order the
step wrote them."""

from __future__ import annotations

import json
import shutil
import threading

import requests

from tests.processes import EngineProcess

from .conftest import NS, Client, container, step_lines, validate, workflow

STREAM_ERROR = "grpc.gateway.runtime.StreamError"


def get_log(api: Client, name: str, **params) -> requests.Response:
    return requests.get(f"{api.base}/api/v1/workflows/{NS}/{name}/log", params=params, timeout=20)


def frames(resp: requests.Response) -> list[dict]:
    return [json.loads(line) for line in resp.text.splitlines() if line]


def test_unknown_pod_is_an_error_frame(api: Client) -> None:
    name = api.run(workflow("main", [container("main", "echo hi")]))["metadata"]["name"]
    resp = get_log(api, name, podName="no-such-pod", **{"logOptions.container": "main"})
    assert resp.status_code == 404
    assert resp.headers["Content-Type"] == "application/json"
    (frame,) = frames(resp)
    validate(api.swagger, frame["error"], STREAM_ERROR)
    assert frame["error"]["grpc_code"] == 5 and frame["error"]["http_code"] == 404
    assert frame["error"]["http_status"] == "Not Found"
    assert frame["error"]["message"] == 'pods "no-such-pod" not found'
    # the pod that exists still streams
    lines = [f["result"]["content"] for f in frames(get_log(api, name, podName=name))]
    assert step_lines(lines) == ["hi"]


def test_unknown_workflow_is_an_error_frame(api: Client) -> None:
    resp = get_log(api, "no-such-workflow")
    assert resp.status_code == 404
    (frame,) = frames(resp)
    validate(api.swagger, frame["error"], STREAM_ERROR)
    assert frame["error"]["message"] == 'workflows.argoproj.io "no-such-workflow" not found'


def test_bad_query_is_a_plain_error(api: Client) -> None:
    name = api.run(workflow("main", [container("main", "echo hi")]))["metadata"]["name"]
    resp = get_log(api, name, **{"logOptions.tailLines": "ten"})
    assert resp.status_code == 400
    body = resp.json()
    validate(api.swagger, body, "grpc.gateway.runtime.Error")
    assert body["code"] == 3 and "logOptions.tailLines 'ten'" in body["message"]


def test_a_failure_mid_stream_ends_with_an_error_frame(api: Client, engine: EngineProcess) -> None:
    script = "echo first; sleep 1; echo second; sleep 1; echo third"
    name = api.create(workflow("main", [container("main", script)]))["metadata"]["name"]
    got: list[dict] = []
    seen_first = threading.Event()

    def read() -> None:
        params = {"logOptions.follow": "true", "podName": name}
        with requests.get(
            f"{api.base}/api/v1/workflows/{NS}/{name}/log", params=params, stream=True, timeout=20
        ) as resp:
            assert resp.status_code == 200
            for line in resp.iter_lines():
                got.append(json.loads(line))
                if got[-1].get("result", {}).get("content") == "first":
                    seen_first.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert seen_first.wait(10)
    # a real fault: the log file is replaced by a folder while it is followed
    log = engine.data / "logs" / NS / name / f"{name}.log"
    log.unlink()
    log.mkdir()
    reader.join(20)
    assert got[1] == {"result": {"content": "first", "podName": name}}  # after the engine's note
    error = got[-1]["error"]
    validate(api.swagger, error, STREAM_ERROR)
    assert error["grpc_code"] == 13 and error["http_code"] == 500
    assert error["message"].startswith(f"cannot read the log of {name}: ")
    api.wait(name)
    shutil.rmtree(log)


def test_stdout_and_stderr_keep_their_order(api: Client) -> None:
    """A Python step (stdout would be block-buffered in a pipe) alternating both streams, and a
    line of stdout written in two halves around a line of stderr."""
    source = """
import sys, time
for i in range(4):
    print(f"out {i}")
    time.sleep(0.05)
    print(f"err {i}", file=sys.stderr)
    time.sleep(0.05)
sys.stdout.write("half ")
sys.stdout.flush()
time.sleep(0.05)
print("an error line", file=sys.stderr)
time.sleep(0.05)
print("and the rest")
"""
    tmpl = {
        "name": "main",
        "script": {"image": "python:3.11", "command": ["python3"], "source": source},
    }
    wf = api.run(workflow("main", [tmpl]))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    name = wf["metadata"]["name"]
    lines = [f["result"]["content"] for f in frames(get_log(api, name))]
    expected = [x for i in range(4) for x in (f"out {i}", f"err {i}")]
    assert step_lines(lines, "python:3.11") == [*expected, "an error line", "half and the rest"]
    node = wf["status"]["nodes"][name]
    # outputs.result is stdout alone, as in Argo
    assert node["outputs"]["result"] == "out 0\nout 1\nout 2\nout 3\nhalf and the rest"
