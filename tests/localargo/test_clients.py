"""Real Argo clients against the engine, over real HTTP: the official ``argo-workflows`` SDK
(typed, return types checked), Hera, and the SSE streams Argo's web UI reads."""

from __future__ import annotations

import copy
import json
import socket
import threading
import time

import argo_workflows
import pytest
import requests
from argo_workflows.apis import (
    ArchivedWorkflowServiceApi,
    CronWorkflowServiceApi,
    WorkflowServiceApi,
    WorkflowTemplateServiceApi,
)
from argo_workflows.exceptions import ApiException
from argo_workflows.model.io_argoproj_workflow_v1alpha1_create_cron_workflow_request import (
    IoArgoprojWorkflowV1alpha1CreateCronWorkflowRequest,
)
from argo_workflows.model.io_argoproj_workflow_v1alpha1_lint_cron_workflow_request import (
    IoArgoprojWorkflowV1alpha1LintCronWorkflowRequest,
)
from argo_workflows.model.io_argoproj_workflow_v1alpha1_workflow_create_request import (
    IoArgoprojWorkflowV1alpha1WorkflowCreateRequest,
)
from argo_workflows.model.io_argoproj_workflow_v1alpha1_workflow_lint_request import (
    IoArgoprojWorkflowV1alpha1WorkflowLintRequest,
)
from argo_workflows.model.io_argoproj_workflow_v1alpha1_workflow_resubmit_request import (
    IoArgoprojWorkflowV1alpha1WorkflowResubmitRequest,
)
from argo_workflows.model.io_argoproj_workflow_v1alpha1_workflow_resume_request import (
    IoArgoprojWorkflowV1alpha1WorkflowResumeRequest,
)
from argo_workflows.model.io_argoproj_workflow_v1alpha1_workflow_retry_request import (
    IoArgoprojWorkflowV1alpha1WorkflowRetryRequest,
)
from argo_workflows.model.io_argoproj_workflow_v1alpha1_workflow_set_request import (
    IoArgoprojWorkflowV1alpha1WorkflowSetRequest,
)
from argo_workflows.model.io_argoproj_workflow_v1alpha1_workflow_submit_request import (
    IoArgoprojWorkflowV1alpha1WorkflowSubmitRequest,
)
from argo_workflows.model.io_argoproj_workflow_v1alpha1_workflow_template_create_request import (
    IoArgoprojWorkflowV1alpha1WorkflowTemplateCreateRequest,
)
from argo_workflows.model.io_argoproj_workflow_v1alpha1_workflow_template_lint_request import (
    IoArgoprojWorkflowV1alpha1WorkflowTemplateLintRequest,
)
from argo_workflows.model.stream_result_of_io_argoproj_workflow_v1alpha1_workflow_watch_event import (  # noqa: E501
    StreamResultOfIoArgoprojWorkflowV1alpha1WorkflowWatchEvent,
)
from argo_workflows.model_utils import validate_and_convert_types
from hera.workflows import WorkflowsService

from tests.processes import EngineProcess

from .conftest import NS, WF, ApiFailure, Client, container, step_lines, validate, workflow

WATCH_EVENT = "io.argoproj.workflow.v1alpha1.WorkflowWatchEvent"
LIST = "io.argoproj.workflow.v1alpha1.WorkflowList"


@pytest.fixture(scope="module")
def sdk(engine: EngineProcess) -> argo_workflows.ApiClient:
    return argo_workflows.ApiClient(argo_workflows.Configuration(host=engine.url))


def typed(sdk: argo_workflows.ApiClient, data: dict, cls: type):
    """A request body from its JSON form, as the SDK's own models."""
    data = copy.deepcopy(data)  # the conversion turns nested dicts into models in place
    return validate_and_convert_types(data, (cls,), ["body"], True, True, sdk.configuration)


def create(sdk, wf: dict):
    body = typed(sdk, {"workflow": wf}, IoArgoprojWorkflowV1alpha1WorkflowCreateRequest)
    return WorkflowServiceApi(sdk).create_workflow(NS, body)


def hello(prefix: str = "cli-", **labels: str) -> dict:
    wf = workflow("main", [container("main", "echo hello; echo world")], prefix=prefix)
    wf["metadata"]["labels"] = {"suite": "clients", **labels}
    return wf


def approval(prefix: str = "approve-") -> dict:
    """A suspend node with an intermediate parameter (Argo's "intermediate parameters")."""
    return workflow(
        "main",
        [
            {
                "name": "main",
                "steps": [
                    [{"name": "approve", "template": "approve"}],
                    [
                        {
                            "name": "show",
                            "template": "show",
                            "arguments": {
                                "parameters": [
                                    {
                                        "name": "v",
                                        "value": "{{steps.approve.outputs.parameters.choice}}",
                                    }
                                ]
                            },
                        }
                    ],
                ],
            },
            {
                "name": "approve",
                "suspend": {},
                "outputs": {
                    "parameters": [
                        {"name": "choice", "valueFrom": {"supplied": {}, "default": "NO"}}
                    ]
                },
            },
            {
                "name": "show",
                "inputs": {"parameters": [{"name": "v"}]},
                "container": {
                    "image": "busybox",
                    "command": ["sh", "-c"],
                    "args": ["echo chose {{inputs.parameters.v}}"],
                },
            },
        ],
        prefix=prefix,
    )


def wait_for(api: Client, name: str, cond, timeout: float = 30) -> dict:
    deadline = time.time() + timeout
    while True:
        wf = api.get(name)
        if cond(wf):
            return wf
        assert time.time() < deadline, f"{name}: condition not met; {wf['status']}"
        time.sleep(0.1)


def suspended(wf: dict) -> bool:
    nodes = wf["status"].get("nodes", {}).values()
    return any(n["type"] == "Suspend" and n["phase"] == "Running" for n in nodes)


def sse(url: str, params: dict, until, timeout: float = 30) -> list[dict]:
    """Read an SSE stream as a browser does: ``data:`` lines until ``until(frames)``."""
    frames: list[dict] = []
    with requests.get(
        url, params=params, headers={"Accept": "text/event-stream"}, stream=True, timeout=timeout
    ) as resp:
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"] == "text/event-stream"
        for line in resp.iter_lines(decode_unicode=True):
            if line and line.startswith("data: "):
                frames.append(json.loads(line[len("data: ") :]))
                if until(frames):
                    break
    return frames


# -- typed SDK: CRUD, lists, trimming -------------------------------------------------------


def test_sdk_create_get_list_with_fields(sdk, api: Client) -> None:
    svc = WorkflowServiceApi(sdk)
    created = create(sdk, hello(idx="a"))
    name = created.metadata.name
    api.wait(name)
    got = svc.get_workflow(NS, name)
    assert got.status.phase == "Succeeded"
    # trimmed get and list: the typed client needs metadata and spec (swagger `required`)
    slim = svc.get_workflow(NS, name, fields="status.phase")
    assert slim.status.phase == "Succeeded"
    listed = svc.list_workflows(
        NS,
        list_options_label_selector="suite=clients",
        fields="items.metadata.name,items.status.phase,items.status.nodes",
    )
    assert name in [w.metadata.name for w in listed.items]
    assert all(n.id and n.name and n.type for w in listed.items for n in w.status.nodes.values())
    plain = svc.list_workflows(NS, fields="items.metadata.name")
    assert name in [w.metadata.name for w in plain.items]
    raw = requests.get(
        f"{api.base}/api/v1/workflows/{NS}", params={"fields": "items.metadata.name"}, timeout=10
    ).json()
    validate(api.swagger, raw, "io.argoproj.workflow.v1alpha1.WorkflowList")
    # Hera decodes the same trimmed answers
    hera = WorkflowsService(host=api.base, verify_ssl=False, namespace=NS)
    assert name in [
        w.metadata.name for w in hera.list_workflows(fields="items.metadata.name").items
    ]


def test_list_filters(sdk, api: Client) -> None:
    names = [api.run(hello(prefix="flt-alice-"))["metadata"]["name"]]
    names.append(api.run(hello(prefix="flt-bob-"))["metadata"]["name"])
    alice, bob = names

    def listed(**params) -> set[str]:
        body = api.call("GET", f"/api/v1/workflows/{NS}", LIST, params=params)
        return {w["metadata"]["name"] for w in body["items"]} & set(names)

    fs = "listOptions.fieldSelector"
    assert listed(**{fs: f"metadata.name={alice}"}) == {alice}
    assert listed(**{fs: f"metadata.name=={bob}"}) == {bob}
    assert listed(**{fs: f"metadata.name!={alice}"}) == {bob}
    assert listed(**{fs: "metadata.name=flt-alice"}) == set()  # Exact by default
    assert listed(**{fs: "metadata.name=flt-", "nameFilter": "Prefix"}) == {alice, bob}
    assert listed(**{fs: "metadata.name=bob", "nameFilter": "Contains"}) == {bob}
    assert listed(**{fs: f"metadata.namespace={NS}"}) == {alice, bob}
    assert listed(**{fs: f"metadata.namespace!={NS}"}) == set()
    assert listed(createdAfter="2999-01-01T00:00:00Z") == set()
    assert listed(finishedBefore="2999-01-01T00:00:00Z") == {alice, bob}
    assert listed(finishedBefore="2000-01-01T00:00:00Z") == set()
    with pytest.raises(ApiFailure) as err:
        listed(**{fs: "status.phase=Running"})
    assert err.value.status == 400 and "unsupported requirement" in err.value.body["message"]
    with pytest.raises(ApiFailure):
        listed(**{fs: "metadata.name=x", "nameFilter": "Fuzzy"})
    with pytest.raises(ApiFailure):
        listed(createdAfter="yesterday")
    # the typed SDK spells these the same way
    svc = WorkflowServiceApi(sdk)
    got = svc.list_workflows(
        NS, list_options_field_selector="metadata.name=flt-", name_filter="Prefix"
    )
    assert {w.metadata.name for w in got.items} >= {alice, bob}


def test_lint_does_not_mind_an_existing_name(sdk, api: Client) -> None:
    name = api.run(hello())["metadata"]["name"]
    body = {"workflow": {"metadata": {"name": name}, "spec": hello()["spec"]}}
    linted = api.call("POST", f"/api/v1/workflows/{NS}/lint", WF, json=body)
    assert linted["metadata"]["name"] == name
    typed_body = typed(sdk, body, IoArgoprojWorkflowV1alpha1WorkflowLintRequest)
    assert WorkflowServiceApi(sdk).lint_workflow(NS, typed_body).metadata.name == name
    bad = {
        "workflow": {"metadata": {"name": name}, "spec": {**hello()["spec"], "entrypoint": "no"}}
    }
    with pytest.raises(ApiFailure) as err:
        api.call("POST", f"/api/v1/workflows/{NS}/lint", json=bad)
    assert err.value.status == 400


# -- watch (workflow-events) ------------------------------------------------------------------


def test_watch_single_workflow_until_succeeded(api: Client) -> None:
    wf = hello(prefix="watch-")
    wf["spec"]["templates"][0]["container"]["args"] = ["sleep 3; echo done"]
    name = api.create(wf)["metadata"]["name"]
    wait_for(api, name, lambda w: w["status"].get("phase") == "Running")
    frames = sse(
        f"{api.base}/api/v1/workflow-events/{NS}",
        {"listOptions.fieldSelector": f"metadata.name={name}"},
        lambda fs: fs[-1]["result"]["object"]["status"].get("phase") == "Succeeded",
    )
    kinds = [f["result"]["type"] for f in frames]
    assert kinds[0] == "ADDED" and set(kinds[1:]) <= {"MODIFIED"} and len(kinds) >= 2
    for f in frames:
        validate(api.swagger, f["result"], WATCH_EVENT)
        assert f["result"]["object"]["metadata"]["name"] == name
    phases = [f["result"]["object"]["status"].get("phase") for f in frames]
    assert "Running" in phases and phases[-1] == "Succeeded"


def test_watch_list_form_labels_fields_and_delete(api: Client) -> None:
    url = f"{api.base}/api/v1/workflow-events/{NS}"
    tag = f"w{int(time.time() * 1000)}"
    got: list[dict] = []
    ready = threading.Event()

    def reader() -> None:
        params = {
            "listOptions.labelSelector": f"tag={tag}",
            "fields": "result.object.metadata.name,result.object.status.phase",
        }
        with requests.get(
            url, params=params, headers={"Accept": "text/event-stream"}, stream=True, timeout=30
        ) as resp:
            ready.set()
            for line in resp.iter_lines(decode_unicode=True):
                if line.startswith("data: "):
                    got.append(json.loads(line[6:])["result"])
                    if got[-1]["type"] == "DELETED":
                        return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    assert ready.wait(10)
    other = api.create(hello(prefix="unwatched-"))["metadata"]["name"]
    name = api.run(hello(prefix="watched-", tag=tag))["metadata"]["name"]
    api.call("DELETE", f"/api/v1/workflows/{NS}/{name}")
    t.join(20)
    assert not t.is_alive()
    assert {e["object"]["metadata"]["name"] for e in got} == {name} and name != other
    assert got[0]["type"] == "ADDED" and got[-1]["type"] == "DELETED"
    for e in got:  # trimmed to what was asked, plus what swagger requires
        assert set(e["object"]) == {"metadata", "spec", "status"} and e["object"]["spec"] == {}


def test_watch_resource_version_and_timeout(api: Client) -> None:
    name = api.run(hello(prefix="rv-"))["metadata"]["name"]
    rv = api.get(name)["metadata"]["resourceVersion"]
    resp = requests.get(
        f"{api.base}/api/v1/workflow-events/{NS}",
        params={
            "listOptions.fieldSelector": f"metadata.name={name}",
            "listOptions.resourceVersion": rv,
            "listOptions.timeoutSeconds": "1",
        },
        timeout=10,
    )
    assert resp.status_code == 200 and resp.text.strip() == ""  # nothing newer than rv
    with pytest.raises(ApiFailure) as err:
        api.call("GET", f"/api/v1/workflow-events/{NS}",
                 params={"listOptions.fieldSelector": "metadata.name=no-such"})  # fmt: skip
    assert err.value.status == 404


def test_sdk_watch_frames_decode_typed(sdk, api: Client) -> None:
    name = api.run(hello(prefix="sdkwatch-"))["metadata"]["name"]
    resp = WorkflowServiceApi(sdk).watch_workflows(
        NS,
        list_options_field_selector=f"metadata.name={name}",
        list_options_timeout_seconds="1",
        _preload_content=False,
    )
    lines = [x for x in resp.data.decode().splitlines() if x]
    assert lines
    for line in lines:
        event = validate_and_convert_types(
            json.loads(line),
            (StreamResultOfIoArgoprojWorkflowV1alpha1WorkflowWatchEvent,),
            ["received"],
            True,
            True,
            sdk.configuration,
        )
        assert event.result.object.metadata.name == name


@pytest.mark.slow
def test_streams_are_bounded_and_released(tmp_path) -> None:
    """Past the stream bound a watch is refused 429 at once; closed ones free their slot.

    An engine of its own: the shared one may hold another test's watch, so the count would
    not be this test's to pin."""
    proc = EngineProcess(tmp_path, extra=["--max-streams", "6"]).start()
    try:
        _streams_bounded(f"{proc.url}/api/v1/workflow-events/{NS}", bound=6)
    finally:
        proc.stop()


def _streams_bounded(url: str, bound: int) -> None:
    held = []
    try:
        status = 200
        for _ in range(bound + 8):
            resp = requests.get(
                url, headers={"Accept": "text/event-stream"}, stream=True, timeout=10
            )
            status = resp.status_code
            if status != 200:
                body = resp.json()
                resp.close()
                break
            held.append(resp)
        assert status == 429 and body["code"] == 8
        assert len(held) == bound
    finally:
        for resp in held:
            resp.close()
    deadline = time.time() + 20  # a watcher notices a closed client within a keep-alive beat
    while True:
        resp = requests.get(url, params={"listOptions.timeoutSeconds": "1"}, timeout=10)
        if resp.status_code == 200:
            break
        assert time.time() < deadline, "stream slots were not released"
        time.sleep(0.5)


def test_connection_cap_answers_503(tmp_path) -> None:
    proc = EngineProcess(tmp_path, extra=["--max-connections", "4"]).start()
    socks = []
    try:
        for _ in range(4):  # idle kept-alive connections, each holding a handler thread
            s = socket.create_connection(("127.0.0.1", proc.port))
            socks.append(s)
        # The engine takes each connection into a handler thread when it gets to it: on a
        # busy machine that may take longer than a moment, so ask until the cap shows.
        deadline = time.monotonic() + 15
        while True:
            resp = requests.get(f"{proc.url}/api/v1/version", timeout=10)
            if resp.status_code != 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert resp.status_code == 503 and resp.json()["code"] == 14
        for s in socks:
            s.close()
        deadline = time.time() + 10
        while requests.get(f"{proc.url}/api/v1/version", timeout=10).status_code != 200:
            assert time.time() < deadline
            time.sleep(0.2)
    finally:
        for s in socks:
            s.close()
        proc.stop()


# -- logs ---------------------------------------------------------------------------------------


def test_logs_as_sse_and_follow(sdk, api: Client) -> None:
    name = api.run(hello(prefix="logs-"))["metadata"]["name"]
    frames = sse(f"{api.base}/api/v1/workflows/{NS}/{name}/log",
                 {"logOptions.container": "main"}, lambda fs: False)  # fmt: skip
    assert step_lines([f["result"]["content"] for f in frames]) == ["hello", "world"]
    assert all(f["result"]["podName"] for f in frames)
    wf = hello(prefix="follow-")
    wf["spec"]["templates"][0]["container"]["args"] = ["echo one; sleep 1; echo two"]
    name = api.create(wf)["metadata"]["name"]
    resp = WorkflowServiceApi(sdk).workflow_logs(
        NS, name, log_options_container="main", log_options_follow=True, _preload_content=False
    )
    lines = [json.loads(x)["result"]["content"] for x in resp.data.decode().splitlines() if x]
    assert step_lines(lines) == ["one", "two"]


# -- suspend / set / resume / stop / terminate ------------------------------------------------


def test_set_supplied_output_then_resume(sdk, api: Client) -> None:
    svc = WorkflowServiceApi(sdk)
    name = create(sdk, approval()).metadata.name
    wait_for(api, name, suspended)
    body = {"nodeFieldSelector": "displayName=approve", "outputParameters": '{"choice": "YES"}'}
    svc.set_workflow(NS, name, typed(sdk, body, IoArgoprojWorkflowV1alpha1WorkflowSetRequest))
    with pytest.raises(ApiFailure) as err:  # a supplied value is set once
        api.call("PUT", f"/api/v1/workflows/{NS}/{name}/set", json=body)
    assert err.value.status == 400 and "already set" in err.value.body["message"]
    with pytest.raises(ApiFailure) as err:
        api.call("PUT", f"/api/v1/workflows/{NS}/{name}/set",
                 json={"nodeFieldSelector": "displayName=approve", "phase": "Running"})  # fmt: skip
    assert err.value.status == 400
    with pytest.raises(ApiFailure) as err:
        api.call("PUT", f"/api/v1/workflows/{NS}/{name}/set",
                 json={"nodeFieldSelector": "displayName=nope", "phase": "Succeeded"})  # fmt: skip
    assert err.value.status == 400 and "no suspend nodes matching" in err.value.body["message"]
    svc.resume_workflow(NS, name, typed(sdk, {}, IoArgoprojWorkflowV1alpha1WorkflowResumeRequest))
    wf = api.wait(name)
    assert wf["status"]["phase"] == "Succeeded"
    show = next(n for n in wf["status"]["nodes"].values() if n["displayName"] == "show")
    assert show["inputs"]["parameters"][0]["value"] == "YES"


def test_resume_takes_the_supplied_default_and_set_phase(sdk, api: Client) -> None:
    name = api.create(approval())["metadata"]["name"]
    wait_for(api, name, suspended)
    api.call("PUT", f"/api/v1/workflows/{NS}/{name}/resume", WF, json={})
    wf = api.wait(name)
    show = next(n for n in wf["status"]["nodes"].values() if n["displayName"] == "show")
    assert show["inputs"]["parameters"][0]["value"] == "NO"
    name = api.create(approval())["metadata"]["name"]
    wait_for(api, name, suspended)
    api.call("PUT", f"/api/v1/workflows/{NS}/{name}/set", WF,
             json={"nodeFieldSelector": "displayName=approve", "phase": "Failed",
                   "message": "rejected"})  # fmt: skip
    wf = api.wait(name)
    node = next(n for n in wf["status"]["nodes"].values() if n["displayName"] == "approve")
    assert wf["status"]["phase"] == "Failed"
    assert node["phase"] == "Failed" and node["message"] == "rejected"


def test_sdk_suspend_resume_stop_terminate(sdk, api: Client) -> None:
    svc = WorkflowServiceApi(sdk)
    wf = hello(prefix="ctl-")
    wf["spec"]["templates"][0]["container"]["args"] = ["sleep 30"]
    name = create(sdk, wf).metadata.name
    assert svc.suspend_workflow(NS, name, {}).spec.suspend is True
    svc.resume_workflow(NS, name, {})
    stopped = svc.stop_workflow(NS, name, {"message": "enough"})
    assert stopped.spec.shutdown == "Stop"
    done = api.wait(name)
    assert done["status"]["phase"] == "Failed"
    name = create(sdk, wf).metadata.name
    svc.terminate_workflow(NS, name, {})
    assert api.wait(name)["status"]["phase"] == "Failed"
    with pytest.raises(ApiFailure) as err:
        api.call("PUT", f"/api/v1/workflows/{NS}/{name}/stop",
                 json={"nodeFieldSelector": "displayName=x"})  # fmt: skip
    assert err.value.status == 400 and "nodeFieldSelector" in err.value.body["message"]


# -- retry / resubmit with options ------------------------------------------------------------


def two_steps(prefix: str, fail: str = "exit 1") -> dict:
    return workflow(
        "main",
        [
            {
                "name": "main",
                "inputs": {"parameters": [{"name": "x"}]},
                "dag": {
                    "tasks": [
                        {"name": "a", "template": "ok"},
                        {"name": "b", "template": "bad", "dependencies": ["a"]},
                    ]
                },
            },
            container("ok", "echo ok"),
            container("bad", f"test {{{{workflow.parameters.x}}}} = go || {fail}"),
        ],
        prefix=prefix,
        arguments={"parameters": [{"name": "x", "value": "stop"}]},
    )


def test_retry_options(sdk, api: Client) -> None:
    svc = WorkflowServiceApi(sdk)
    wf = two_steps("retry-")
    wf["spec"]["templates"][0].pop("inputs")
    name = api.run(wf)["metadata"]["name"]
    assert api.get(name)["status"]["phase"] == "Failed"
    first = {n["displayName"]: n for n in api.get(name)["status"]["nodes"].values()}
    body = {"parameters": ["x=go"]}
    svc.retry_workflow(NS, name, typed(sdk, body, IoArgoprojWorkflowV1alpha1WorkflowRetryRequest))
    wf = api.wait(name, phases=("Succeeded", "Failed", "Error"))
    nodes = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
    assert wf["status"]["phase"] == "Succeeded"
    assert nodes["a"]["startedAt"] == first["a"]["startedAt"]  # kept, not re-run
    assert {"name": "x", "value": "go"} in wf["spec"]["arguments"]["parameters"]
    with pytest.raises(ApiFailure) as err:  # Succeeded: nothing to retry
        api.call("PUT", f"/api/v1/workflows/{NS}/{name}/retry", json={})
    assert err.value.status == 409
    # restartSuccessful + nodeFieldSelector re-runs the matched succeeded node
    name2 = api.run(two_steps("retry2-") | {})["metadata"]["name"]
    api.call("PUT", f"/api/v1/workflows/{NS}/{name2}/retry", WF,
             json={"restartSuccessful": True, "nodeFieldSelector": "displayName=a",
                   "parameters": ["x=go"]})  # fmt: skip
    again = api.wait(name2)
    assert again["status"]["phase"] == "Succeeded"
    with pytest.raises(ApiFailure) as err:
        api.call("PUT", f"/api/v1/workflows/{NS}/{name2}/retry", json={"parameters": ["nope"]})
    assert err.value.status == 400 and "NAME=VALUE" in err.value.body["message"]


def test_resubmit_options(sdk, api: Client) -> None:
    svc = WorkflowServiceApi(sdk)
    wf = two_steps("resub-")
    wf["spec"]["templates"][0].pop("inputs")
    name = api.run(wf)["metadata"]["name"]
    body = typed(sdk, {"parameters": ["x=go"]}, IoArgoprojWorkflowV1alpha1WorkflowResubmitRequest)
    new = svc.resubmit_workflow(NS, name, body).metadata.name
    done = api.wait(new)
    assert done["status"]["phase"] == "Succeeded"
    assert done["metadata"]["labels"]["workflows.argoproj.io/resubmitted-from-workflow"] == name
    with pytest.raises(ApiFailure) as err:
        api.call("PUT", f"/api/v1/workflows/{NS}/{name}/resubmit", json={"memoized": True})
    assert err.value.status == 400 and "memoized" in err.value.body["message"]


# -- templates, cron, submit ------------------------------------------------------------------


def test_templates_lint_filters_and_submit(sdk, api: Client) -> None:
    wts = WorkflowTemplateServiceApi(sdk)
    tag = str(int(time.time()))
    tmpl = {
        "metadata": {"name": f"tpl-{tag}", "labels": {"team": "a"}},
        "spec": hello()["spec"],
    }
    linted = wts.lint_workflow_template(
        NS, typed(sdk, {"template": tmpl}, IoArgoprojWorkflowV1alpha1WorkflowTemplateLintRequest)
    )
    assert linted.metadata.name == f"tpl-{tag}"
    with pytest.raises(ApiFailure) as err:
        api.call("GET", f"/api/v1/workflow-templates/{NS}/tpl-{tag}")
    assert err.value.status == 404  # lint stores nothing
    wts.create_workflow_template(
        NS, typed(sdk, {"template": tmpl}, IoArgoprojWorkflowV1alpha1WorkflowTemplateCreateRequest)
    )
    other = {"metadata": {"name": f"other-{tag}", "labels": {"team": "b"}}, "spec": tmpl["spec"]}
    api.call("POST", f"/api/v1/workflow-templates/{NS}", json={"template": other})
    by_label = wts.list_workflow_templates(NS, list_options_label_selector="team=a")
    assert [t.metadata.name for t in by_label.items] == [f"tpl-{tag}"]
    by_name = wts.list_workflow_templates(NS, name_pattern=f"her-{tag}")
    assert [t.metadata.name for t in by_name.items] == [f"other-{tag}"]
    bad = {"template": {"metadata": {"name": "b"}, "spec": {"templates": [{"name": ""}]}}}
    with pytest.raises(ApiFailure) as err:
        api.call("POST", f"/api/v1/workflow-templates/{NS}/lint", json=bad)
    assert err.value.status == 400
    cluster = {"metadata": {"name": f"c-{tag}"}, "spec": tmpl["spec"]}
    cwft = "io.argoproj.workflow.v1alpha1.ClusterWorkflowTemplate"
    api.call("POST", "/api/v1/cluster-workflow-templates/lint", cwft, json={"template": cluster})
    submitted = WorkflowServiceApi(sdk).submit_workflow(
        NS,
        typed(
            sdk,
            {"resourceKind": "WorkflowTemplate", "resourceName": f"tpl-{tag}"},
            IoArgoprojWorkflowV1alpha1WorkflowSubmitRequest,
        ),
    )
    assert api.wait(submitted.metadata.name)["status"]["phase"] == "Succeeded"
    wts.delete_workflow_template(NS, f"tpl-{tag}")
    wts.delete_workflow_template(NS, f"other-{tag}")


def test_cron_crud_lint_and_submit(sdk, api: Client) -> None:
    crons = CronWorkflowServiceApi(sdk)
    name = f"cron-cli-{int(time.time())}"
    cron = {
        "metadata": {"name": name},
        "spec": {"schedules": ["0 0 1 1 *"], "workflowSpec": hello()["spec"]},
    }
    lint = typed(sdk, {"cronWorkflow": cron}, IoArgoprojWorkflowV1alpha1LintCronWorkflowRequest)
    assert crons.lint_cron_workflow(NS, lint).metadata.name == name
    body = typed(sdk, {"cronWorkflow": cron}, IoArgoprojWorkflowV1alpha1CreateCronWorkflowRequest)
    crons.create_cron_workflow(NS, body)
    assert crons.get_cron_workflow(NS, name).spec.schedules == ["0 0 1 1 *"]
    assert name in [c.metadata.name for c in crons.list_cron_workflows(NS).items]
    assert crons.suspend_cron_workflow(NS, name, {}).spec.suspend is True
    submitted = WorkflowServiceApi(sdk).submit_workflow(
        NS,
        typed(
            sdk,
            {"resourceKind": "CronWorkflow", "resourceName": name},
            IoArgoprojWorkflowV1alpha1WorkflowSubmitRequest,
        ),
    )
    assert api.wait(submitted.metadata.name)["status"]["phase"] == "Succeeded"
    crons.delete_cron_workflow(NS, name)


# -- archive -----------------------------------------------------------------------------------


def test_archive_list_get_labels_retry_resubmit_delete(sdk, api: Client) -> None:
    arch = ArchivedWorkflowServiceApi(sdk)
    ok = api.run(hello(prefix="arch-ok-", kind="arch"))
    bad_wf = two_steps("arch-bad-")
    bad_wf["spec"]["templates"][0].pop("inputs")
    bad_wf["metadata"]["labels"] = {"kind": "arch"}
    bad = api.run(bad_wf)
    for wf in (ok, bad):
        api.call("DELETE", f"/api/v1/workflows/{NS}/{wf['metadata']['name']}")
    uid, bad_uid = ok["metadata"]["uid"], bad["metadata"]["uid"]
    listed = arch.list_archived_workflows(list_options_label_selector="kind=arch")
    assert {uid, bad_uid} <= {w.metadata.uid for w in listed.items}
    pref = arch.list_archived_workflows(name_prefix="arch-ok-")
    assert {w.metadata.uid for w in pref.items} >= {uid} and bad_uid not in {
        w.metadata.uid for w in pref.items
    }
    exact = api.call("GET", "/api/v1/archived-workflows", params={
        "listOptions.fieldSelector": f"metadata.name={ok['metadata']['name']}"})  # fmt: skip
    assert [w["metadata"]["uid"] for w in exact["items"]] == [uid]
    assert arch.get_archived_workflow(uid).metadata.name == ok["metadata"]["name"]
    assert "kind" in arch.list_archived_workflow_label_keys().items
    values = arch.list_archived_workflow_label_values(list_options_label_selector="kind")
    assert values.items == ["arch"]
    with pytest.raises(ApiFailure) as err:  # an empty uid is not the list (Argo's UI relies on it)
        api.call("GET", "/api/v1/archived-workflows/")
    assert err.value.status == 404
    retried = arch.retry_archived_workflow(bad_uid, {"parameters": ["x=go"]})
    assert retried.metadata.name == bad["metadata"]["name"]
    assert api.wait(retried.metadata.name)["status"]["phase"] == "Succeeded"
    with pytest.raises(ApiFailure) as err:  # the live workflow now holds the name
        api.call("PUT", f"/api/v1/archived-workflows/{bad_uid}/retry", json={})
    assert err.value.status == 409
    again = arch.resubmit_archived_workflow(uid, {"memoized": False})
    assert api.wait(again.metadata.name)["status"]["phase"] == "Succeeded"
    arch.delete_archived_workflow(uid)
    with pytest.raises(ApiException) as exc:
        arch.get_archived_workflow(uid)
    assert exc.value.status == 404


def test_artifacts_by_uid(api: Client) -> None:
    wf = workflow(
        "main",
        [
            container(
                "main",
                "echo art > /tmp/out.txt",
                outputs={
                    "artifacts": [{"name": "out", "path": "/tmp/out.txt", "archive": {"none": {}}}]
                },
            )
        ],
        prefix="art-",
    )
    done = api.run(wf)
    uid, name = done["metadata"]["uid"], done["metadata"]["name"]
    node = next(n for n in done["status"]["nodes"].values() if n["type"] == "Pod")
    api.call("DELETE", f"/api/v1/workflows/{NS}/{name}")
    resp = requests.get(f"{api.base}/artifacts-by-uid/{uid}/{node['id']}/out", timeout=10)
    assert resp.status_code == 200 and resp.content.strip() == b"art"
    missing = requests.get(f"{api.base}/artifacts-by-uid/{uid}/{node['id']}/nope", timeout=10)
    assert missing.status_code == 404
