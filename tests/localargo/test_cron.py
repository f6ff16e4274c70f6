"""CronWorkflows: CRUD, run-now, and the scheduler with concurrencyPolicy Forbid. The engine
runs with --cron-seconds so that a schedule can fire every few seconds in a test."""

from __future__ import annotations

import time

import pytest

from .conftest import NS, ApiFailure, Client, container

CRON = "io.argoproj.workflow.v1alpha1.CronWorkflow"


def cron(name: str, schedule: str, script: str, **spec) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {
            "schedules": [schedule],
            "workflowSpec": {"entrypoint": "main", "templates": [container("main", script)]},
            **spec,
        },
    }


def spawned(api: Client, name: str) -> list[dict]:
    return api.call(
        "GET",
        f"/api/v1/workflows/{NS}",
        params={"listOptions.labelSelector": f"workflows.argoproj.io/cron-workflow={name}"},
    )["items"]


def test_cron_crud_and_validation(api: Client) -> None:
    base = f"/api/v1/cron-workflows/{NS}"
    created = api.call(
        "POST", base, CRON, json={"cronWorkflow": cron("c-crud", "0 3 * * *", "true", suspend=True)}
    )
    assert created["metadata"]["uid"]
    with pytest.raises(ApiFailure) as err:
        api.call("POST", base, json={"cronWorkflow": cron("c-crud", "0 3 * * *", "true")})
    assert err.value.status == 409
    with pytest.raises(ApiFailure) as err:
        api.call("POST", base, json={"cronWorkflow": cron("c-bad", "61 * * * *", "true")})
    assert err.value.status == 400 and "spec.schedules[0]" in err.value.body["message"]
    body = cron("c-crud", "0 4 * * *", "true", timezone="Europe/Paris")
    updated = api.call("PUT", f"{base}/c-crud", CRON, json={"cronWorkflow": body})
    assert updated["spec"]["schedules"] == ["0 4 * * *"]
    resumed = api.call("PUT", f"{base}/c-crud/resume", CRON, json={})
    assert resumed["spec"]["suspend"] is False
    api.call("PUT", f"{base}/c-crud/suspend", CRON, json={})
    listed = api.call("GET", base, "io.argoproj.workflow.v1alpha1.CronWorkflowList")
    assert "c-crud" in [c["metadata"]["name"] for c in listed["items"]]
    run = api.call(
        "POST",
        f"/api/v1/workflows/{NS}/submit",
        "io.argoproj.workflow.v1alpha1.Workflow",
        json={"resourceKind": "CronWorkflow", "resourceName": "c-crud"},
    )
    assert run["metadata"]["labels"]["workflows.argoproj.io/cron-workflow"] == "c-crud"
    assert api.wait(run["metadata"]["name"])["status"]["phase"] == "Succeeded"
    api.call("DELETE", f"{base}/c-crud")
    with pytest.raises(ApiFailure) as err:
        api.call("GET", f"{base}/c-crud")
    assert err.value.status == 404


def test_cron_forbid_skips_while_one_runs(api: Client) -> None:
    base = f"/api/v1/cron-workflows/{NS}"
    # fires every 2 seconds (6-field form, seconds last); each run lasts ~5 s
    api.call(
        "POST",
        base,
        CRON,
        json={
            "cronWorkflow": cron("c-forbid", "* * * * * */2", "sleep 5", concurrencyPolicy="Forbid")
        },
    )
    try:
        deadline = time.time() + 15
        while not spawned(api, "c-forbid"):
            assert time.time() < deadline, "the schedule never fired"
            time.sleep(0.2)
        first = spawned(api, "c-forbid")[0]["metadata"]["name"]
        assert first.startswith("c-forbid-") and first[len("c-forbid-") :].isdigit()
        status = api.call("GET", f"{base}/c-forbid", CRON)["status"]
        assert [a["name"] for a in status["active"]] == [first]
        time.sleep(4)  # two more ticks pass while the first run is active
        assert [w["metadata"]["name"] for w in spawned(api, "c-forbid")] == [first]
        assert api.wait(first, timeout=15)["status"]["phase"] == "Succeeded"
        deadline = time.time() + 10
        while len(spawned(api, "c-forbid")) < 2:
            assert time.time() < deadline, "the schedule did not fire after the run ended"
            time.sleep(0.2)
    finally:
        api.call("PUT", f"{base}/c-forbid/suspend", json={})
        api.call("DELETE", f"{base}/c-forbid")


def test_a_refused_submit_sets_submission_error_and_a_working_one_clears_it(api: Client) -> None:
    """As Argo: the CronWorkflow says why its last scheduled workflow could not be created
    (apps/recurring reports it as a misfire), until a submit works again."""
    base = f"/api/v1/cron-workflows/{NS}"
    templates = f"/api/v1/workflow-templates/{NS}"
    gate = {
        "metadata": {"name": "c-gate"},
        "spec": {"templates": [{"name": "gate", "suspend": {}}]},
    }
    api.call("POST", templates, json={"template": gate})
    ref = {"name": "c-gate", "template": "gate"}
    spec = {
        "entrypoint": "main",
        "templates": [{"name": "main", "dag": {"tasks": [{"name": "g", "templateRef": ref}]}}],
    }
    body = {
        "metadata": {"name": "c-misfire"},
        "spec": {"schedules": ["* * * * * *"], "workflowSpec": spec},
    }
    api.call("POST", base, CRON, json={"cronWorkflow": body})

    def conditions() -> list[dict]:
        return api.call("GET", f"{base}/c-misfire", CRON)["status"].get("conditions") or []

    try:
        api.call("DELETE", f"{templates}/c-gate")
        deadline = time.time() + 10
        while not conditions():
            assert time.time() < deadline, "no SubmissionError after a refused submit"
            time.sleep(0.2)
        [condition] = conditions()
        assert condition["type"] == "SubmissionError" and condition["status"] == "True"
        assert "c-gate" in condition["message"]
        api.call("POST", templates, json={"template": gate})
        deadline = time.time() + 10
        while conditions():
            assert time.time() < deadline, "a submit that worked left the SubmissionError"
            time.sleep(0.2)
        assert spawned(api, "c-misfire")
    finally:
        api.call("PUT", f"{base}/c-misfire/suspend", json={})
        for workflow in spawned(api, "c-misfire"):
            api.call(
                "PUT", f"/api/v1/workflows/{NS}/{workflow['metadata']['name']}/terminate", json={}
            )
        api.call("DELETE", f"{base}/c-misfire")
        api.call("DELETE", f"{templates}/c-gate")
