"""A schedule that could not start a run: the engine's CronWorkflow carries Argo's
SubmissionError condition, the recurring reconciler reports it, and each misfire is notified
once however many passes see it."""

import hashlib
import hmac
import json
import time

import pytest
import requests

from apps.experiments.models import Experiment
from apps.notifications.constants import Channel, Event
from apps.notifications.models import Delivery, Subscription
from apps.orchestration.argo import get_client
from apps.recurring.cron import RECURRING_LABEL
from apps.recurring.models import RecurringRun
from apps.recurring.tasks import reconcile_cron_workflows
from tests.recurring.fixtures import hello_version
from tests.recurring.test_recurring_views import make_rr

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def _cron(name: str, recurring_id: str, template: str) -> dict:
    """Runs the WorkflowTemplate `template` every second (the test engine takes six fields)."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": name, "labels": {RECURRING_LABEL: recurring_id}},
        "spec": {
            "schedules": ["* * * * * *"],
            "workflowSpec": {
                "entrypoint": "main",
                "templates": [
                    {
                        "name": "main",
                        "dag": {
                            "tasks": [
                                {
                                    "name": "gate",
                                    "templateRef": {"name": template, "template": "gate"},
                                }
                            ]
                        },
                    }
                ],
            },
        },
    }


def _workflow_template(engine_url: str, name: str) -> None:
    template = {
        "metadata": {"name": name},
        "spec": {"templates": [{"name": "gate", "suspend": {}}]},
    }
    response = requests.post(
        f"{engine_url}/api/v1/workflow-templates/argo", json={"template": template}, timeout=10
    )
    response.raise_for_status()


def test_a_misfire_is_notified_once(argo, receiver, eager_tasks):
    rr = make_rr(hello_version(), Experiment.objects.create(name="misfiring"))
    rr.refresh_from_db()
    sub = Subscription.objects.create(
        recurring_run=rr,
        channel=Channel.WEBHOOK,
        url=receiver.url,
        events=[Event.SCHEDULE_MISFIRED],
    )
    client = get_client()
    # The CronWorkflow is accepted while its WorkflowTemplate exists; once that is deleted,
    # every workflow it submits is refused: each firing is a misfire.
    template = f"gone-{rr.pk.hex[:8]}"
    _workflow_template(argo.url, template)
    client.create_cron_workflow(
        _cron(rr.cron_workflow_name, str(rr.pk), template), namespace="argo"
    )
    requests.delete(f"{argo.url}/api/v1/workflow-templates/argo/{template}", timeout=10)
    try:
        deadline = time.monotonic() + 30
        while not Delivery.objects.exists():
            assert time.monotonic() < deadline, "no misfire was reported"
            reconcile_cron_workflows(client, ["argo"])
            time.sleep(0.3)
        # Stop the schedule (the reconciler keeps a disabled one suspended), then let passes
        # see the standing condition again: nothing new is delivered.
        RecurringRun.objects.filter(pk=rr.pk).update(enabled=False)
        client.suspend_cron_workflow(rr.cron_workflow_name, namespace="argo")
        time.sleep(1.5)
        reconcile_cron_workflows(client, ["argo"])
        seen = Delivery.objects.count()
        for _ in range(3):
            reconcile_cron_workflows(client, ["argo"])
        assert Delivery.objects.count() == seen
    finally:
        client.delete_cron_workflow(rr.cron_workflow_name, namespace="argo")

    deliveries = list(Delivery.objects.all())
    assert len({d.key for d in deliveries}) == len(deliveries) == len(receiver.requests)
    assert {(d.status, d.event, d.run_id) for d in deliveries} == {
        ("delivered", "schedule_misfired", None)
    }
    for headers, body in receiver.requests:
        expected = "sha256=" + hmac.new(sub.secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-YDP-Signature"] == expected
    payload = json.loads(receiver.requests[0][1])
    assert payload["event"] == "schedule_misfired" and "run" not in payload
    assert payload["recurring_run"]["id"] == str(rr.pk)
    assert payload["recurring_run"]["name"] == rr.name
    assert template in payload["recurring_run"]["message"]
