"""Terminate, retry and a followed log through the API, against the engine over real HTTP."""

from __future__ import annotations

import time

import pytest

from apps.api.tokens import issue_token
from apps.experiments.models import Experiment
from apps.pipelines.services import create_version
from apps.runs.constants import RunState
from apps.runs.models import Run, Step

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

SLOW = b"""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: slow-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: count
        template: count
  - name: count
    container:
      image: localhost/ydp-busybox:1
      command: [sh, -c]
      args: ["for i in 1 2 3 4 5 6; do echo tick $i; sleep 1; done"]
"""

FLAKY = b"""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: flaky-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: fail
        template: fail
  - name: fail
    container:
      image: localhost/ydp-busybox:1
      command: [sh, -c]
      args: ["echo failing; exit 1"]
"""


def _wait(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError("timed out")


@pytest.fixture
def api(client, user):
    _, token = issue_token(user, name="CI", role="write")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def _start(api, data: bytes, name: str) -> str:
    create_version(upload_name=f"{name}.yaml", data=data, pipeline_name=name)
    Experiment.objects.get_or_create(name="engine")
    body = {"version": name, "experiment": "engine"}
    response = api.post("/api/v1/runs", body, "application/json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_a_followed_log_streams_until_the_step_ends_then_terminate(api, worker):
    run_id = _start(api, SLOW, "slow")
    _wait(
        lambda: Step.objects.filter(run_id=run_id, display_name="count", phase="Running").exists()
    )
    step = Step.objects.get(run_id=run_id, display_name="count")
    response = api.get(f"/api/v1/runs/{run_id}/steps/{step.pk}/log?follow=true")
    assert response.status_code == 200 and response.streaming
    text = b"".join(response.streaming_content).decode()
    # The stream ends with the step: every line is there, the last one included.
    assert [line for line in text.splitlines() if line.startswith("tick")] == [
        f"tick {i}" for i in range(1, 7)
    ]

    run_id = _start(api, SLOW, "slow again")
    _wait(lambda: Run.objects.get(pk=run_id).submitted_at is not None)
    response = api.post(f"/api/v1/runs/{run_id}/terminate")
    assert response.status_code == 200, response.content
    assert "Termination requested" in response.json()["message"]
    _wait(lambda: Run.objects.get(pk=run_id).is_finished)
    assert Run.objects.get(pk=run_id).state in (RunState.FAILED, RunState.TERMINATED)


def test_retry_runs_the_failed_step_again(api, worker):
    run_id = _start(api, FLAKY, "flaky")
    _wait(lambda: Run.objects.get(pk=run_id).is_finished)
    assert Run.objects.get(pk=run_id).state == RunState.FAILED
    response = api.post(f"/api/v1/runs/{run_id}/retry")
    assert response.status_code == 200, response.content
    assert response.json()["run"]["state"] == "Running"
    _wait(lambda: Run.objects.get(pk=run_id).is_finished)
    # It fails again (the step always does), after a second attempt of it.
    assert Run.objects.get(pk=run_id).state == RunState.FAILED
