"""The REST API surface: shapes, errors, list filters and trimming, with requests and Hera."""

from __future__ import annotations

import pytest
from hera.workflows import WorkflowsService
from hera.workflows.models import WorkflowCreateRequest

from tests.processes import EngineProcess

from .conftest import NS, ApiFailure, Client, container, workflow


def hello() -> dict:
    return workflow("main", [container("main", "echo hello")], prefix="hello-")


def test_version_and_info(api: Client) -> None:
    version = api.call("GET", "/api/v1/version", "io.argoproj.workflow.v1alpha1.Version")
    assert version["version"].startswith("v4")
    api.call("GET", "/api/v1/info", "io.argoproj.workflow.v1alpha1.InfoResponse")


def test_create_get_generate_name_and_duplicate(api: Client) -> None:
    wf = api.run(hello())
    name = wf["metadata"]["name"]
    assert name.startswith("hello-") and len(name) == len("hello-") + 5
    assert wf["status"]["phase"] == "Succeeded"
    again = {"metadata": {"name": name}, "spec": hello()["spec"]}
    with pytest.raises(ApiFailure) as err:
        api.create(again)
    assert err.value.status == 409 and "already exists" in err.value.body["message"]
    assert err.value.body["code"] == 6


def test_missing_workflow_is_404(api: Client) -> None:
    with pytest.raises(ApiFailure) as err:
        api.get("no-such-workflow")
    assert err.value.status == 404 and err.value.body["code"] == 5
    assert '"no-such-workflow" not found' in err.value.body["message"]


def test_server_dry_run_stores_nothing(api: Client) -> None:
    body = {
        "workflow": {"metadata": {"name": "dry-one"}, "spec": hello()["spec"]},
        "serverDryRun": True,
    }
    wf = api.call(
        "POST", f"/api/v1/workflows/{NS}", "io.argoproj.workflow.v1alpha1.Workflow", json=body
    )
    assert wf["metadata"]["name"] == "dry-one"
    with pytest.raises(ApiFailure):
        api.get("dry-one")


def test_unsupported_feature_is_refused_naming_the_field(api: Client) -> None:
    wf = workflow("main", [{"name": "main", "resource": {"action": "create", "manifest": "x"}}])
    with pytest.raises(ApiFailure) as err:
        api.create(wf)
    assert err.value.status == 400
    assert err.value.body["message"].startswith("unsupported: spec.templates[0].resource")
    outside = workflow(
        "main",
        [container("main", "true", outputs={"artifacts": [{"name": "o", "path": "/mnt/out"}]})],
    )
    with pytest.raises(ApiFailure) as err:
        api.create(outside)
    assert "unsupported: spec.templates[0].outputs.artifacts[0].path" in err.value.body["message"]


def test_bad_workflow_is_400_naming_the_place(api: Client) -> None:
    wf = workflow("nope", [container("main", "true")])
    with pytest.raises(ApiFailure) as err:
        api.create(wf)
    assert err.value.status == 400 and "spec.entrypoint" in err.value.body["message"]


def test_list_selector_phase_fields_and_continue(api: Client) -> None:
    for i in range(3):
        w = hello()
        w["metadata"]["labels"] = {"suite": "list", "idx": str(i)}
        api.run(w)
    lst = api.call(
        "GET",
        f"/api/v1/workflows/{NS}",
        "io.argoproj.workflow.v1alpha1.WorkflowList",
        params={"listOptions.labelSelector": "suite=list,idx in (0,2)"},
    )
    assert sorted(w["metadata"]["labels"]["idx"] for w in lst["items"]) == ["0", "2"]
    phase = api.call(
        "GET",
        f"/api/v1/workflows/{NS}",
        params={"listOptions.labelSelector": "suite=list,workflows.argoproj.io/phase=Succeeded"},
    )
    assert len(phase["items"]) == 3
    fields = "metadata.continue,items.metadata.name,items.status.phase"
    page = api.call(
        "GET",
        f"/api/v1/workflows/{NS}",
        params={
            "listOptions.labelSelector": "suite=list",
            "listOptions.limit": "2",
            "fields": fields,
        },
    )
    assert len(page["items"]) == 2 and page["metadata"]["continue"]
    # what was asked, plus what swagger requires (metadata, spec) for typed clients
    assert set(page["items"][0]) == {"metadata", "spec", "status"}
    assert page["items"][0]["spec"] == {} and set(page["items"][0]["status"]) == {"phase"}
    rest = api.call(
        "GET",
        f"/api/v1/workflows/{NS}",
        params={
            "listOptions.labelSelector": "suite=list",
            "listOptions.limit": "2",
            "listOptions.continue": page["metadata"]["continue"],
            "fields": fields,
        },
    )
    names = {w["metadata"]["name"] for w in page["items"] + rest["items"]}
    assert len(names) == 3 and "continue" not in rest.get("metadata", {})


def test_delete(api: Client) -> None:
    name = api.run(hello())["metadata"]["name"]
    api.call("DELETE", f"/api/v1/workflows/{NS}/{name}")
    with pytest.raises(ApiFailure) as err:
        api.get(name)
    assert err.value.status == 404


def test_hera_workflows_service(engine: EngineProcess, api: Client) -> None:
    svc = WorkflowsService(host=engine.url, verify_ssl=False, namespace=NS)
    assert svc.get_version().version.startswith("v4")
    created = svc.create_workflow(WorkflowCreateRequest.model_validate({"workflow": hello()}))
    name = created.metadata.name
    api.wait(name)
    got = svc.get_workflow(name)
    assert got.status.phase == "Succeeded"
    listed = svc.list_workflows(label_selector="workflows.argoproj.io/completed=true")
    assert name in [w.metadata.name for w in listed.items]
    svc.delete_workflow(name)
    assert name not in [w.metadata.name for w in svc.list_workflows().items or []]


def test_token_auth(tmp_path, swagger) -> None:
    proc = EngineProcess(tmp_path, token="s3cret").start()
    try:
        anon = Client(proc.url, swagger)
        with pytest.raises(ApiFailure) as err:
            anon.call("GET", f"/api/v1/workflows/{NS}")
        assert err.value.status == 401
        wrong = Client(proc.url, swagger, token="nope")
        with pytest.raises(ApiFailure):
            wrong.call("GET", f"/api/v1/workflows/{NS}")
        ok = Client(proc.url, swagger, token="s3cret")
        assert ok.call("GET", f"/api/v1/workflows/{NS}")["items"] == []
    finally:
        proc.stop()
