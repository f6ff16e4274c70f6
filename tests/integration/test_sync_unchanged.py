"""The sync compares a workflow node by node only when Argo says it moved (resourceVersion)."""

import time

import pytest

from apps.experiments.models import Experiment
from apps.orchestration.argo import get_client
from apps.pipelines.services import create_version
from apps.runs.models import Run
from apps.runs.services import create_run
from apps.runs.sync import sync_active_runs
from apps.runs.tasks import submit_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

WAITING = b"""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: wait-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: approve
        template: gate
      - name: after
        template: gate
        depends: approve
  - name: gate
    suspend: {}
"""


def test_an_unchanged_workflow_is_not_compared_again(argo):
    version = create_version(upload_name="wait.yaml", data=WAITING, pipeline_name="gates")
    run = create_run(version=version, experiment=Experiment.objects.create(name="gates"))
    assert submit_run(str(run.id)) == "created"
    client = get_client()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sync_active_runs(client)
        if run.steps.filter(display_name="approve", phase="Running").exists():
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the first gate never started")

    stats = sync_active_runs(client)
    assert stats == {**stats, "calls": 1, "unchanged": 1, "changed": 0}
    seen = Run.objects.get(pk=run.pk)
    assert seen.workflow_resource_version
    assert seen.last_synced_at is not None

    client.resume_workflow(run.workflow_name)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stats = sync_active_runs(client)
        if run.steps.filter(display_name="after", phase="Running").exists():
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the resumed workflow never reached its second gate")
    assert run.steps.get(display_name="approve").phase == "Succeeded"
    assert Run.objects.get(pk=run.pk).workflow_resource_version != seen.workflow_resource_version
    client.terminate_workflow(run.workflow_name)
