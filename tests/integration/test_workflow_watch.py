"""Beat's watcher of Argo's workflow watch, against the embedded engine over real HTTP: with no
beat pass at all, it copies each change of a run onto its rows as the engine reports it, pushes
it on the run's channel, and only one watcher leads at a time."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from apps.experiments.models import Experiment
from apps.orchestration.argo import get_client
from apps.pipelines.services import create_version
from apps.runs import watch
from apps.runs.constants import RunState, StepPhase
from apps.runs.models import Run
from apps.runs.push import Subscription, redis_client, run_channel
from apps.runs.services import create_run
from apps.runs.tasks import submit_run

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(120),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (the watcher leads there)"),
]

TWO_STEPS = b"""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: watched-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: first
        template: nap
      - name: last
        template: nap
        depends: first
  - name: nap
    container:
      image: busybox
      command: [sh, -c, "sleep 0.5"]
"""


@pytest.fixture
def watcher(argo, monkeypatch):
    monkeypatch.setattr(watch, "WATCH_SECONDS", 2)  # stop() takes effect within a watch
    # A beat an earlier test of this session stopped by a signal left its lead to expire
    # (30 s): under this session's prefix, no other watcher runs now.
    redis_client().delete(watch.lead_key())
    started: list[watch.WorkflowWatcher] = []

    def start() -> watch.WorkflowWatcher:
        thread = watch.WorkflowWatcher("argo")
        thread.start()
        started.append(thread)
        return thread

    yield start
    for thread in started:
        thread.stop()
    for thread in started:
        thread.join(timeout=10)
        assert not thread.is_alive()


def test_the_watch_alone_syncs_a_run_to_its_end_and_pushes_it(watcher):
    version = create_version(upload_name="w.yaml", data=TWO_STEPS, pipeline_name="watched")
    run = create_run(version=version, experiment=Experiment.objects.create(name="watch"))
    first = watcher()
    with Subscription([run_channel(run.pk)]) as sub:
        assert submit_run(str(run.id)) == "created"
        states: list[str] = []
        deadline = time.monotonic() + 60
        while RunState.SUCCEEDED not in states and time.monotonic() < deadline:
            states += [m["state"] for m in sub.wait(1)]
    assert RunState.SUCCEEDED in states, states
    run = Run.objects.get(pk=run.pk)
    assert run.state == RunState.SUCCEEDED and run.finished_at is not None
    phases = dict(run.steps.filter(node_type="Pod").values_list("display_name", "phase"))
    assert phases == {"first": StepPhase.SUCCEEDED, "last": StepPhase.SUCCEEDED}
    assert first.batches >= 2  # the steps' changes came one by one, not in one final pass


def test_one_watcher_leads_at_a_time(watcher):
    first = watcher()
    deadline = time.monotonic() + 10
    while first.batches == 0 and not first._lead() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = watch.WorkflowWatcher("argo")
    assert first._lead() and not second._lead()
    first.stop()
    first.join(timeout=10)
    assert second._lead()  # the lead is given up on stop, not left to expire
    second._resign()


def test_a_workflow_that_left_the_selection_unfinished_is_asked_for(argo):
    """Kubernetes' watch sends a workflow that stopped matching `completed!=true` as it last
    matched (still Running): the watcher asks for its final state. One gone is left to beat."""
    version = create_version(upload_name="w.yaml", data=TWO_STEPS, pipeline_name="asked")
    run = create_run(version=version, experiment=Experiment.objects.create(name="asked"))
    assert submit_run(str(run.id)) == "created"
    run.refresh_from_db()
    assert get_client().wait_for_end(run.workflow_name, timeout=60) == "Succeeded"
    stale = {"metadata": {"name": run.workflow_name, "namespace": "argo"}}
    stale["status"] = {"phase": "Running"}
    workflow = watch._workflow_of({"type": "DELETED", "object": stale})
    assert workflow is not None and workflow["status"]["phase"] == "Succeeded"
    assert {n["displayName"] for n in workflow["status"]["nodes"].values()} >= {"first", "last"}
    stale["metadata"]["name"] = "no-such-workflow"
    assert watch._workflow_of({"type": "DELETED", "object": stale}) is None
