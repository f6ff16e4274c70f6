"""Argo rules the engine used to accept and get wrong (issue 9), each through the real HTTP API."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import NS, ApiFailure, Client, container, workflow
from .test_run import by_display


def echo(name: str, text: str, **extra) -> dict:
    return container(name, f"echo '{text}'", **extra)


def test_jsonpath_wildcards_and_recursive_descent_reach_the_step(api: Client) -> None:
    doc = json.dumps({"a": [{"n": 1}, {"n": 2}], "x": {"b": 3, "y": {"b": 4}}})
    show = {
        "name": "show",
        "inputs": {"parameters": [{"name": "doc"}]},
        "container": {
            "image": "busybox",
            "command": ["echo"],
            "args": [
                "{{=jsonpath(inputs.parameters.doc, '$.a[*].n')}}",
                "{{=jsonpath(inputs.parameters.doc, '$..b')}}",
                "{{=jsonpath(inputs.parameters.doc, '$.a[?(@.n > 1)].n')}}",
            ],
        },
    }
    steps = {
        "name": "main",
        "steps": [
            [
                {
                    "name": "s",
                    "template": "show",
                    "arguments": {"parameters": [{"name": "doc", "value": doc}]},
                }
            ]
        ],
    }
    wf = api.run(workflow("main", [steps, show]))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    assert by_display(wf)["s"]["outputs"]["result"] == "[1,2] [3,4] [2]"


def test_an_expression_that_cannot_be_evaluated_fails_the_node_never_reaches_the_step(
    api: Client,
) -> None:
    bad = {
        "name": "bad",
        "container": {
            "image": "busybox",
            "command": ["echo"],
            "args": ["{{=jsonpath('{\"a\": 1}', '$.missing')}}"],
        },
    }
    wf = api.run(workflow("bad", [bad]))
    assert wf["status"]["phase"] == "Error", wf["status"]
    node = by_display(wf)[wf["metadata"]["name"]]
    assert node["phase"] == "Error"
    assert node["message"].startswith("failed to evaluate expression: key error: missing")
    assert "result" not in (node.get("outputs") or {})


def test_bad_expression_in_task_arguments_errors_the_task(api: Client) -> None:
    show = echo("show", "{{inputs.parameters.v}}", inputs={"parameters": [{"name": "v"}]})
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {
                    "name": "t",
                    "template": "show",
                    "arguments": {"parameters": [{"name": "v", "value": "{{=asInt('x')}}"}]},
                }
            ]
        },
    }
    wf = api.run(workflow("main", [dag, show]))
    node = by_display(wf)["t"]
    assert node["phase"] == "Error"
    assert node["message"] == "failed to evaluate expression: asInt: 'x' is not an integer"


def test_workflow_parameters_json_is_argos_list_of_parameters(api: Client) -> None:
    second = "{{=jsonpath(workflow.parameters.json, '$[1].value')}}"
    show = container("show", f"echo '{{{{workflow.parameters.json}}}}'; echo \"{second}\"")
    args = {"parameters": [{"name": "a", "value": "1"}, {"name": "b", "value": "two"}]}
    wf = api.run(workflow("show", [show], arguments=args))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    out = by_display(wf)[wf["metadata"]["name"]]["outputs"]["result"].splitlines()
    assert json.loads(out[0]) == [{"name": "a", "value": "1"}, {"name": "b", "value": "two"}]
    assert out[1] == "two"


def test_argument_from_a_configmap_key(api: Client) -> None:
    api.session.request(
        "PUT",
        f"{api.base}/api/v1/localargo/configmaps/{NS}/sem-cm",
        json={"data": {"k": "from-cm"}},
    ).raise_for_status()
    show = echo("show", "{{workflow.parameters.p}}")
    ref = {"name": "p", "valueFrom": {"configMapKeyRef": {"name": "sem-cm", "key": "k"}}}
    wf = api.run(workflow("show", [show], arguments={"parameters": [ref]}))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    assert by_display(wf)[wf["metadata"]["name"]]["outputs"]["result"] == "from-cm"

    missing = {"name": "p", "valueFrom": {"configMapKeyRef": {"name": "sem-none", "key": "k"}}}
    wf = api.run(workflow("show", [show], arguments={"parameters": [missing]}))
    assert wf["status"]["phase"] == "Error"
    assert wf["status"]["message"].startswith(
        "failed to set global parameter p from configmap with name sem-none and key k"
    )
    assert wf["status"]["nodes"] == {} or not wf["status"].get("nodes")


def test_workflow_metadata_labels_and_labels_from_land_on_the_workflow(api: Client) -> None:
    show = echo("show", "{{workflow.labels.team}}-{{workflow.labels.who}}")
    spec = {
        "arguments": {"parameters": [{"name": "owner", "value": "ana"}]},
        "workflowMetadata": {
            "labels": {"team": "data"},
            "labelsFrom": {"who": {"expression": "workflow.parameters.owner"}},
        },
    }
    wf = workflow("show", [show], **spec)
    wf["metadata"]["annotations"] = {"workflows.argoproj.io/display-name": "Nightly report"}
    wf = api.run(wf)
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    assert wf["metadata"]["labels"]["team"] == "data"
    assert wf["metadata"]["labels"]["who"] == "ana"
    assert wf["metadata"]["annotations"]["workflows.argoproj.io/display-name"] == "Nightly report"
    assert by_display(wf)[wf["metadata"]["name"]]["outputs"]["result"] == "data-ana"
    listed = api.call(
        "GET", f"/api/v1/workflows/{NS}", params={"listOptions.labelSelector": "who=ana"}
    )
    assert wf["metadata"]["name"] in [w["metadata"]["name"] for w in listed["items"]]


def test_labels_from_that_is_not_a_string_errors_the_workflow(api: Client) -> None:
    spec = {"workflowMetadata": {"labelsFrom": {"n": {"expression": "1 + 1"}}}}
    wf = api.run(workflow("show", [echo("show", "x")], **spec))
    assert wf["status"]["phase"] == "Error"
    assert wf["status"]["message"] == "label 'n' expression '1 + 1' must return a string, got 2"


def test_template_timeout_kills_a_running_pod_with_the_pod_deadline_message(api: Client) -> None:
    slow = container("slow", "sleep 30", timeout="2s")
    started = time.time()
    wf = api.run(workflow("slow", [slow]), timeout=30)
    assert time.time() - started < 20
    node = by_display(wf)[wf["metadata"]["name"]]
    assert node["phase"] == "Failed"
    assert node["message"] == "Pod was active on the node longer than the specified deadline"


def test_template_timeout_fails_a_node_still_pending_on_a_mutex(api: Client) -> None:
    holder = container("holder", "sleep 5", synchronization={"mutex": {"name": "sem-mx"}})
    waiter = container(
        "waiter", "echo late", timeout="2s", synchronization={"mutex": {"name": "sem-mx"}}
    )
    steps = {
        "name": "main",
        "steps": [
            [
                {"name": "a", "template": "holder"},
                {"name": "b", "template": "waiter", "continueOn": {"failed": True}},
            ]
        ],
    }
    wf = api.run(workflow("main", [steps, holder, waiter]), timeout=30)
    nodes = by_display(wf)
    assert nodes["a"]["phase"] == "Succeeded"
    assert nodes["b"]["phase"] == "Failed" and nodes["b"]["message"] == "timeout"
    assert wf["status"]["phase"] == "Succeeded"


def test_timeout_on_a_dag_template_is_refused(api: Client) -> None:
    dag = {"name": "main", "timeout": "5s", "dag": {"tasks": [{"name": "a", "template": "e"}]}}
    with pytest.raises(ApiFailure) as err:
        api.create(workflow("main", [dag, echo("e", "x")]))
    assert err.value.status == 400
    assert err.value.body["message"].startswith("unsupported: spec.templates[0].timeout")


def test_backoff_max_duration_stops_retrying_with_argos_message(api: Client) -> None:
    fail = container(
        "fail",
        "exit 1",
        retryStrategy={
            "limit": 10,
            "backoff": {"duration": "2s", "factor": 2, "maxDuration": "6s"},
        },
    )
    wf = api.run(workflow("fail", [fail]), timeout=30)
    retry = by_display(wf)[wf["metadata"]["name"]]
    assert wf["status"]["phase"] == "Failed", wf["status"]
    assert retry["type"] == "Retry"
    assert retry["message"] in (
        "Backoff would exceed max duration limit",
        "Max duration limit exceeded",
    )
    assert 2 <= len(retry["children"]) <= 3  # not the 11 attempts of the limit


def test_template_defaults_merge_into_every_template_template_fields_win(api: Client) -> None:
    defaults = {
        "container": {
            "image": "busybox",
            "command": ["sh", "-c"],
            "env": [{"name": "A", "value": "from-defaults"}, {"name": "B", "value": "b"}],
        },
    }
    own = {
        "name": "own",
        "container": {
            "image": "busybox",
            "args": ["echo $A $B"],
            "env": [{"name": "A", "value": "own"}],
        },
    }
    steps = {"name": "main", "steps": [[{"name": "s", "template": "own"}]]}
    wf = api.run(workflow("main", [steps, own], templateDefaults=defaults))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    nodes = by_display(wf)
    assert nodes["s"]["outputs"]["result"] == "own b"
    assert (
        nodes[wf["metadata"]["name"]]["type"] == "Steps"
    )  # the default container is not merged in


def _wait_for(api: Client, name: str, check, timeout: float = 20) -> dict:
    deadline = time.time() + timeout
    while True:
        wf = api.get(name)
        if check(wf):
            return wf
        assert time.time() < deadline, wf["status"]
        time.sleep(0.1)


def test_a_step_waiting_for_parallelism_has_no_node_yet(api: Client) -> None:
    nap = container("nap", "sleep 2")
    steps = {
        "name": "main",
        "steps": [[{"name": "a", "template": "nap"}, {"name": "b", "template": "nap"}]],
    }
    name = api.create(workflow("main", [steps, nap], parallelism=1))["metadata"]["name"]
    wf = _wait_for(
        api, name, lambda w: any(n["type"] == "Pod" for n in w["status"].get("nodes", {}).values())
    )
    pods = [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"]
    assert len(pods) == 1 and pods[0]["phase"] in ("Pending", "Running")
    wf = api.wait(name, timeout=30)
    assert wf["status"]["phase"] == "Succeeded"
    first, second = sorted(
        (n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"),
        key=lambda n: n["startedAt"],
    )
    assert second["startedAt"] >= first["finishedAt"]  # its clock starts when it may run


def test_a_suspended_workflow_creates_no_new_node(api: Client) -> None:
    nap = container("nap", "sleep 3")
    steps = {
        "name": "main",
        "steps": [[{"name": "a", "template": "nap"}], [{"name": "b", "template": "quick"}]],
    }
    quick = echo("quick", "b")
    name = api.create(workflow("main", [steps, nap, quick]))["metadata"]["name"]
    _wait_for(
        api,
        name,
        lambda w: any(n["displayName"] == "a" for n in w["status"].get("nodes", {}).values()),
    )
    api.call("PUT", f"/api/v1/workflows/{NS}/{name}/suspend", json={})
    wf = _wait_for(api, name, lambda w: by_display(w).get("a", {}).get("phase") == "Succeeded")
    time.sleep(1.5)
    wf = api.get(name)
    assert "b" not in by_display(wf) and wf["status"]["phase"] == "Running"
    api.call("PUT", f"/api/v1/workflows/{NS}/{name}/resume", json={})
    wf = api.wait(name, timeout=30)
    assert wf["status"]["phase"] == "Succeeded" and by_display(wf)["b"]["phase"] == "Succeeded"


def test_tasks_after_a_failed_task_are_omitted_while_the_dag_fails_fast(api: Client) -> None:
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "a", "template": "ok"},
                {"name": "b", "template": "bad", "dependencies": ["a"]},
                {"name": "c", "template": "ok", "dependencies": ["b"]},
                {"name": "d", "template": "ok", "depends": "c"},
            ]
        },
    }
    wf = api.run(workflow("main", [dag, echo("ok", "ok"), container("bad", "exit 1")]))
    nodes = by_display(wf)
    assert wf["status"]["phase"] == "Failed"
    assert nodes["b"]["phase"] == "Failed"
    for omitted in ("c", "d"):
        assert nodes[omitted]["phase"] == "Omitted"
        assert nodes[omitted]["message"] == "omitted: depends condition not met"


def test_an_http_artifact_url_made_of_parameters_is_substituted(api: Client) -> None:
    """Argo substitutes input and global parameters in an input artifact's http url."""
    leaf = container("main", "cat /tmp/v.json")
    leaf["inputs"] = {
        "parameters": [{"name": "url"}],
        "artifacts": [
            {"name": "v", "path": "/tmp/v.json", "http": {"url": "{{inputs.parameters.url}}"}}
        ],
    }
    glob = container("glob", "cat /tmp/v.json")
    glob["inputs"] = {
        "artifacts": [
            {"name": "v", "path": "/tmp/v.json", "http": {"url": "{{workflow.parameters.url}}"}}
        ]
    }
    main = {
        "name": "entry",
        "steps": [
            [
                {
                    "name": "a",
                    "template": "main",
                    "arguments": {
                        "parameters": [{"name": "url", "value": "{{workflow.parameters.url}}"}]
                    },
                },
                {"name": "b", "template": "glob"},
            ]
        ],
    }
    wf = workflow("entry", [main, leaf, glob])
    wf["spec"]["arguments"] = {
        "parameters": [{"name": "url", "value": f"{api.base}/api/v1/version"}]
    }
    done = api.run(wf)
    assert done["status"]["phase"] == "Succeeded", done["status"]


def test_host_aliases_and_a_missing_template_ref_are_refused(api: Client) -> None:
    # (template-level failFast, once refused here, runs: test_fail_fast.py)
    wf = workflow("main", [container("main", "true", hostAliases=[{"ip": "127.0.0.1"}])])
    with pytest.raises(ApiFailure) as err:
        api.create(wf)
    assert err.value.body["message"].startswith("unsupported: spec.templates[0].hostAliases")
    ref = {
        "name": "main",
        "steps": [[{"name": "a", "templateRef": {"name": "nope", "template": "x"}}]],
    }
    with pytest.raises(ApiFailure) as err:
        api.create(workflow("main", [ref]))
    assert err.value.status == 400
    assert err.value.body["message"] == (
        'spec.templates[0].steps[0][0].templateRef: workflowtemplates.argoproj.io "nope" not found'
    )
