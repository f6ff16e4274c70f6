"""Malformed input never answers 500: every field of a workflow given the wrong JSON type is
a 400 naming it (Kubernetes: ``.spec.arguments.parameters: expected list``), at create and at
lint of workflows, templates and cron workflows."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.localargo.conftest import NS, Client, container, workflow

LEAF = {
    "name": "leaf",
    "inputs": {
        "parameters": [{"name": "in", "default": "x", "enum": ["x"]}],
        "artifacts": [{"name": "ia", "path": "/tmp/ia", "optional": True}],
    },
    "outputs": {
        "parameters": [{"name": "o", "valueFrom": {"path": "/tmp/o", "default": "d"}}],
        "artifacts": [{"name": "oa", "path": "/tmp/oa", "optional": True}],
    },
    "retryStrategy": {"limit": 1, "backoff": {"duration": "1s", "maxDuration": "1m"}},
    "metadata": {"labels": {"a": "b"}},
    "timeout": "10s",
    "synchronization": {"mutex": {"name": "m"}},
    "container": {
        "image": "alpine",
        "command": ["sh", "-c"],
        "args": ["echo {{inputs.parameters.in}}"],
        "env": [{"name": "E", "value": "1"}],
        "volumeMounts": [{"name": "v", "mountPath": "/tmp/v"}],
        "resources": {"limits": {"memory": "64Mi"}},
    },
}
SPEC = {
    "entrypoint": "main",
    "arguments": {
        "parameters": [{"name": "p", "value": "v"}],
        "artifacts": [{"name": "a", "raw": {"data": "x"}}],
    },
    "volumes": [{"name": "v", "emptyDir": {}}],
    "onExit": "leaf",
    "hooks": {"exit": {"template": "leaf"}},
    "templateDefaults": {"metadata": {"labels": {"x": "y"}}},
    "nodeSelector": {"pool": "a"},
    "parallelism": 2,
    "workflowMetadata": {"labelsFrom": {"l": {"expression": "'x'"}}},
    "templates": [
        {
            "name": "main",
            "steps": [
                [
                    {
                        "name": "s",
                        "template": "leaf",
                        "arguments": {"parameters": [{"name": "in", "value": "x"}]},
                        "when": "1 == 1",
                        "withItems": [1, 2],
                        "continueOn": {"failed": True},
                    }
                ]
            ],
        },
        {
            "name": "d",
            "dag": {
                "tasks": [
                    {"name": "a", "template": "leaf", "withParam": "[1]"},
                    {
                        "name": "b",
                        "template": "leaf",
                        "dependencies": ["a"],
                        "withSequence": {"count": "2"},
                    },
                ]
            },
        },
        LEAF,
        {"name": "sc", "script": {"image": "python", "command": ["python"], "source": "1"}},
        {"name": "su", "suspend": {"duration": "1s"}},
    ],
}
# a string for every list/object/number field, a list or object for every other field
WRONG = ["x", [], {}, [None]]


def paths(obj: Any, prefix: tuple = ()) -> Iterator[tuple]:
    if prefix:
        yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from paths(v, (*prefix, i))


def replaced(doc: dict, path: tuple, value: Any) -> dict:
    doc = copy.deepcopy(doc)
    cur = doc
    for key in path[:-1]:
        cur = cur[key]
    cur[path[-1]] = value
    return doc


ROUTES = [
    ("/api/v1/workflows/default/lint", "workflow", lambda spec: {"metadata": {"name": "f"}}),
    ("/api/v1/workflow-templates/default/lint", "template", lambda spec: {"metadata": {}}),
    (
        "/api/v1/cron-workflows/default/lint",
        "cronWorkflow",
        lambda spec: {"metadata": {"name": "c"}},
    ),
]


def body(route: int, spec: Any) -> dict:
    _, _, meta = ROUTES[route]
    if route == 2:
        return {**meta(spec), "spec": {"schedules": ["* * * * *"], "workflowSpec": spec}}
    return {**meta(spec), "spec": spec}


# The workflow route sweeps every field (23 s on a quiet machine); the others, near the top.
@pytest.mark.parametrize("route", [pytest.param(0, marks=pytest.mark.slow), *range(1, len(ROUTES))])
def test_every_field_of_the_wrong_type_is_a_400_naming_a_field_never_a_500(
    api: Client, route: int
) -> None:
    url, key, _ = ROUTES[route]
    session = requests.Session()
    ok = session.post(api.base + url, json={key: body(route, SPEC)}, timeout=30)
    assert ok.status_code == 200, ok.text  # the base document is valid
    failures = []
    # templates and crons share the workflow's spec checks: their sweep stays near the top
    for path in (p for p in paths(SPEC) if route == 0 or len(p) <= 2):
        for value in WRONG:
            resp = session.post(
                api.base + url, json={key: body(route, replaced(SPEC, path, value))}, timeout=30
            )
            message = resp.json().get("message", "")
            if resp.status_code >= 500 or (resp.status_code == 400 and "spec" not in message):
                failures.append((path, value, resp.status_code, message))
    assert not failures, failures[:10]


def test_the_first_field_of_the_wrong_type_is_named_with_what_was_expected(api: Client) -> None:
    wf = workflow("main", [container("main", "true")])
    wf["spec"]["arguments"] = {"parameters": {"someParam": "Hello"}}
    resp = requests.post(f"{api.base}/api/v1/workflows/{NS}", json={"workflow": wf}, timeout=30)
    assert resp.status_code == 400
    assert resp.json()["message"] == "spec.arguments.parameters: expected list, got object"
    wf = workflow("main", [container("main", "true")])
    wf["spec"]["templates"][0]["container"]["args"] = "true"
    resp = requests.post(f"{api.base}/api/v1/workflows/{NS}", json={"workflow": wf}, timeout=30)
    assert resp.json()["message"] == "spec.templates[0].container.args: expected list, got string"
    for bad in ("x", [1]):
        resp = requests.post(f"{api.base}/api/v1/workflows/{NS}", json={"workflow": bad})
        assert resp.status_code == 400, resp.text
        resp = requests.post(
            f"{api.base}/api/v1/workflows/{NS}", json={"workflow": {"metadata": bad}}
        )
        assert resp.status_code == 400, resp.text
        assert resp.json()["message"].startswith("metadata: expected object")


def test_a_malformed_template_is_refused_and_a_workflow_referring_to_it_says_not_found(
    api: Client,
) -> None:
    malformed = {"metadata": {"name": "malformed-t"}, "spec": {"arguments": {"parameters": {}}}}
    malformed["spec"]["arguments"]["parameters"] = {"someParam": "Hello, world!"}
    for url in (f"/api/v1/workflow-templates/{NS}", "/api/v1/cluster-workflow-templates"):
        resp = requests.post(api.base + url, json={"template": malformed}, timeout=30)
        assert resp.status_code == 400
        assert resp.json()["message"] == "spec.arguments.parameters: expected list, got object"
    for scope, kind in ((False, "workflowtemplates"), (True, "clusterworkflowtemplates")):
        wf = {
            "metadata": {"name": "wellformed"},
            "spec": {"workflowTemplateRef": {"name": "malformed-t", "clusterScope": scope}},
        }
        resp = requests.post(f"{api.base}/api/v1/workflows/{NS}", json={"workflow": wf})
        assert resp.status_code == 400
        assert resp.json()["message"] == f'{kind}.argoproj.io "malformed-t" not found'


def test_updating_a_template_is_checked_as_creating_it(api: Client) -> None:
    good = {"metadata": {"name": "upd-t"}, "spec": {"templates": [container("main", "true")]}}
    url = f"{api.base}/api/v1/workflow-templates/{NS}"
    assert requests.post(url, json={"template": good}, timeout=30).status_code == 200
    bad = copy.deepcopy(good)
    bad["spec"]["templates"] = {"main": {}}
    resp = requests.put(f"{url}/upd-t", json={"template": bad}, timeout=30)
    assert resp.status_code == 400
    assert resp.json()["message"] == "spec.templates: expected list, got object"
    stored = requests.get(f"{url}/upd-t", timeout=30).json()
    assert stored["spec"]["templates"][0]["name"] == "main"  # nothing half-written


def test_null_fields_are_absent_as_for_argo_and_the_workflow_runs(api: Client) -> None:
    wf = workflow("main", [container("main", "true", inputs=None)], arguments=None)
    wf["spec"]["volumes"] = None
    done = api.run(wf)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    wf = workflow("main", [container("main", "true")])
    wf["spec"]["templates"][0]["outputs"] = {"artifacts": [{"path": "/tmp/x"}]}
    resp = requests.post(f"{api.base}/api/v1/workflows/{NS}", json={"workflow": wf}, timeout=30)
    assert resp.status_code == 400
    assert resp.json()["message"] == "spec.templates[0].outputs.artifacts[0].name is required"


def test_a_dag_cycle_and_a_malformed_depends_are_refused_at_create(api: Client) -> None:
    """The engine reads dependencies and finds cycles with the app's upload checks' rules
    (localargo.expressions.task_dependencies, ydpipelines.dag.find_cycle)."""
    tasks = [
        {"name": "a", "template": "leaf", "depends": "c.Succeeded"},
        {"name": "b", "template": "leaf", "dependencies": ["a"]},
        {"name": "c", "template": "leaf", "depends": "b"},
    ]
    wf = workflow("main", [{"name": "main", "dag": {"tasks": tasks}}, container("leaf", "true")])
    resp = requests.post(f"{api.base}/api/v1/workflows/{NS}", json={"workflow": wf}, timeout=30)
    assert resp.status_code == 400, resp.text
    message = resp.json()["message"]
    assert "dependency cycle detected: " in message
    cycle = message.split("dependency cycle detected: ")[1].split(" -> ")
    assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == ["a", "b", "c"]
    tasks[0]["depends"] = "b.Succeeded && $"
    resp = requests.post(f"{api.base}/api/v1/workflows/{NS}", json={"workflow": wf}, timeout=30)
    assert resp.status_code == 400, resp.text
    assert "tasks[0].depends: unexpected character '$'" in resp.json()["message"]
