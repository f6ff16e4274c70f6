"""Recurring runs through the API, against the engine's CronWorkflows over real HTTP."""

from __future__ import annotations

import pytest

from apps.api.tokens import issue_token
from apps.experiments.models import Experiment
from apps.orchestration.argo import ArgoNotFound, get_client
from apps.recurring.models import RecurringRun
from tests.recurring.fixtures import hello_version

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def api(client, user):
    _, token = issue_token(user, name="CI", role="write")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture
def setup():
    version = hello_version(pipeline_name="hello")
    Experiment.objects.create(name="nightly")
    return version


BODY = {
    "name": "nightly hello",
    "experiment": "nightly",
    "pipeline": "hello",
    "trigger_type": "cron",
    "cron": "0 3 * * *",
    "parameters": {"greeting": "bonjour"},
}


def test_crud_enable_disable_and_run_now(api, argo, setup):
    response = api.post("/api/v1/recurring-runs", BODY, "application/json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["version"] is None and created["enabled"] and created["revision"] == 1
    assert created["parameters"] == {"greeting": "bonjour", "count": "3"}
    rr = RecurringRun.objects.get(pk=created["id"])
    cron = get_client().get_cron_workflow(rr.cron_workflow_name)
    assert cron["spec"]["schedules"] == ["0 3 * * *"]
    assert [r["id"] for r in api.get("/api/v1/recurring-runs").json()] == [created["id"]]

    changed = {**BODY, "cron": "30 4 * * 1", "version": "v1", "revision": 1}
    response = api.put(f"/api/v1/recurring-runs/{rr.pk}", changed, "application/json")
    assert response.status_code == 200, response.content
    assert response.json()["version"]["name"] == "v1" and response.json()["revision"] == 2
    assert get_client().get_cron_workflow(rr.cron_workflow_name)["spec"]["schedules"] == [
        "30 4 * * 1"
    ]
    # An edit from the revision before is stale: 409, nothing changed.
    response = api.put(f"/api/v1/recurring-runs/{rr.pk}", changed, "application/json")
    assert response.status_code == 409 and response.json()["field"] == "revision"

    response = api.post(f"/api/v1/recurring-runs/{rr.pk}/disable")
    assert response.status_code == 200 and response.json()["enabled"] is False
    assert get_client().get_cron_workflow(rr.cron_workflow_name)["spec"]["suspend"] is True
    response = api.post(f"/api/v1/recurring-runs/{rr.pk}/enable")
    assert response.json()["enabled"] is True

    response = api.post(f"/api/v1/recurring-runs/{rr.pk}/run-now")
    assert response.status_code == 201, response.content
    run = response.json()
    assert run["recurring_run_id"] == str(rr.pk) and run["parameters"]["greeting"] == "bonjour"

    response = api.delete(f"/api/v1/recurring-runs/{rr.pk}")
    assert response.status_code == 204
    assert not RecurringRun.objects.filter(pk=rr.pk).exists()
    with pytest.raises(ArgoNotFound):
        get_client().get_cron_workflow(rr.cron_workflow_name)


def test_bad_schedules_say_why_and_store_nothing(api, argo, setup):
    cases = [
        ({"cron": "every day"}, ""),
        ({"trigger_type": "hourly"}, "trigger_type"),
        # (with "always the latest version", values it does not declare are dropped instead)
        ({"parameters": {"nope": "1"}, "version": "v1"}, "nope"),
        ({"pipeline": "absent"}, "pipeline"),
        ({"version": "v9"}, "version"),
        ({"max_concurrency": 11}, "max_concurrency"),
        ({"name": " "}, "name"),
        ({"start_at": "2030-01-02T00:00:00Z", "end_at": "2030-01-01T00:00:00Z"}, ""),
    ]
    for change, field in cases:
        response = api.post("/api/v1/recurring-runs", {**BODY, **change}, "application/json")
        assert response.status_code in (400, 404), (change, response.content)
        body = response.json()
        assert body["message"] and body["field"] == field, (change, body)
    assert not RecurringRun.objects.exists()
