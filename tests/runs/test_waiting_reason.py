"""The run page says why a step waits (the Pending pod's reason the engine or Kubernetes gives):
in the banner and in the graph node's tooltip, on the page and in its poll."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.runs.constants import RunState, StepPhase
from apps.runs.models import Run
from tests.experiments.builders import make_experiment, make_run, make_step, make_version

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}
CPU = "Unschedulable: 0/1 nodes are available: 1 Insufficient cpu. (cpu: requested 4, free 1.5)"


@pytest.fixture
def run():
    return make_run(make_version(), make_experiment("exp"), submitted_at=timezone.now())


def tooltip(body: str, key: str) -> str:
    found = re.search(rf'data-node="{re.escape(key)}"[^>]*><title>([^<]*)</title>', body)
    assert found, body
    return found.group(1)


def waiting_data(body: str) -> dict:
    found = re.search(r'<script id="run-waiting-data" type="application/json">(.*?)</script>', body)
    assert found, body
    return json.loads(found.group(1))


def test_a_waiting_step_is_named_with_its_reason(auth_client, run, django_assert_num_queries):
    make_step(run, "prepare", StepPhase.RUNNING, started_at=timezone.now())
    make_step(run, "train", StepPhase.PENDING, message=CPU)
    with django_assert_num_queries(6):  # as many as without a waiting step
        body = auth_client.get(run.get_absolute_url()).content.decode()
    assert f"Step “train” is waiting: {CPU}" in body
    assert tooltip(body, "train").endswith(f"\nPending\n{CPU}")
    assert not tooltip(body, "prepare").endswith(CPU)
    assert waiting_data(body) == {"train": CPU}
    with django_assert_num_queries(5):
        poll = auth_client.get(reverse("runs:status", args=[run.pk]), headers=HX)
    poll_body = poll.content.decode()
    assert f"Step “train” is waiting: {CPU}" in poll_body
    assert waiting_data(poll_body) == {"train": CPU}


def test_several_waiting_steps_and_an_attempt_speaking_for_its_node(auth_client, run):
    make_step(run, "prepare", StepPhase.PENDING, message="Waiting for the template's parallelism")
    make_step(run, "train", StepPhase.RUNNING, node_type="Retry")
    make_step(run, "train(1)", StepPhase.PENDING, message=CPU)
    body = auth_client.get(run.get_absolute_url()).content.decode()
    assert (
        "Step “prepare” is waiting: Waiting for the template&#x27;s parallelism "
        "(1 more step waiting)" in body
    )
    assert tooltip(body, "train").endswith(CPU)


def test_the_failure_message_wins_and_a_finished_run_waits_for_nothing(auth_client, run):
    make_step(run, "train", StepPhase.PENDING, message=CPU)
    Run.objects.filter(pk=run.pk).update(message="workflow deadline exceeded")
    body = auth_client.get(run.get_absolute_url()).content.decode()
    assert "workflow deadline exceeded" in body and "is waiting" not in body
    Run.objects.filter(pk=run.pk).update(
        state=RunState.FAILED, message="", finished_at=timezone.now()
    )
    body = auth_client.get(run.get_absolute_url()).content.decode()
    assert "is waiting" not in body
    assert waiting_data(body) == {}
    assert not tooltip(body, "train").endswith(CPU)
