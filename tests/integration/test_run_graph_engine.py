"""Loops, retries and the Retry action as the run page shows them, on the embedded engine over
real HTTP: withItems of 3, withParam from a step's output, a retryStrategy step that fails once."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from apps.experiments.models import Experiment
from apps.orchestration.argo import get_client
from apps.pipelines.services import create_version
from apps.runs.constants import RunState, StepPhase
from apps.runs.services import create_run
from apps.runs.tasks import submit_run
from tests.integration.helpers import sync_until_finished
from tests.integration.loops_workflow import FAILING_YAML, LOOPS_YAML

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]
HX = {"HX-Request": "true"}


def start(name: str, data: bytes):
    version = create_version(upload_name=f"{name}.yaml", data=data, pipeline_name=name)
    experiment = Experiment.objects.create(name=f"{name} experiment")
    run = create_run(version=version, experiment=experiment, parameters={})
    assert submit_run(str(run.id)) == "created"
    return run


def node_classes(body: str) -> dict[str, str]:
    return {
        key: re.search(r"phase-([a-z]+)", cls).group(1)
        for cls, key in re.findall(r'<g class="(node [^"]*)" data-node="([^"]+)"', body)
    }


def test_loops_and_retries_on_the_run_page(argo, auth_client):
    run = sync_until_finished(start("loops", LOOPS_YAML))
    assert run.state == RunState.SUCCEEDED, run.message
    body = auth_client.get(run.get_absolute_url()).content.decode()
    assert node_classes(body) == {
        "make-list": "succeeded",
        "each-letter": "succeeded",
        "each-letter(0:a)": "succeeded",
        "each-letter(1:b)": "succeeded",
        "each-letter(2:c)": "succeeded",
        "each-number": "succeeded",
        "each-number(0:1)": "succeeded",  # withParam: the items make-list printed
        "each-number(1:2)": "succeeded",
        "flaky": "succeeded",
    }
    assert ">3 iterations</text>" in body and ">2 iterations</text>" in body
    assert ">2 attempts</text>" in body

    # An iteration's panel: its own log, its task's config.
    url = reverse("runs:node", args=[run.pk, "each-letter(1:b)"])
    assert "item b" in auth_client.get(url + "?panel=logs", headers=HX).content.decode()
    config = auth_client.get(url + "?panel=config", headers=HX).content.decode()
    assert "disktype=ssd" in config and "cpu 250m" in config
    assert "Not enforced by the embedded engine on this machine: image, cpu, memory" in config

    # The retried step: both attempts listed, each with its own log.
    url = reverse("runs:node", args=[run.pk, "flaky"])
    logs = auth_client.get(url + "?panel=logs", headers=HX).content.decode()
    assert "Attempt 1" in logs and "Attempt 2" in logs and "attempt 1" in logs
    first = run.steps.get(display_name="flaky(0)")
    assert first.phase == StepPhase.FAILED and "ValueError: no" in first.message
    logs = auth_client.get(f"{url}?panel=logs&attempt={first.node_id}", headers=HX).content
    assert b"attempt 0" in logs and b"ValueError: no" in logs


def test_retried_run_that_fails_again_still_names_the_exception(argo, auth_client):
    run = sync_until_finished(start("failing-again", FAILING_YAML))
    assert run.state == RunState.FAILED
    assert "ValueError: bad input" in run.message, run.message

    response = auth_client.post(reverse("runs:retry", args=[run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.state == RunState.RUNNING
    run = sync_until_finished(run)
    assert run.state == RunState.FAILED
    step = run.steps.get(display_name="check")
    assert step.log_fetched and "bad input" in step.log  # the new attempt's log
    assert "ValueError: bad input" in run.message, run.message
    page = auth_client.get(run.get_absolute_url()).content.decode()
    assert "ValueError: bad input" in page
    get_client().delete_workflow(run.workflow_name)
