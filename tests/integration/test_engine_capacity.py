"""What the embedded engine says of the machine, as the run page shows it: a step waiting for
CPU (the scheduler's reason, synced into Step.message) and the host executor's note that the
image was not used (the Config tab). The engine is a real process told it has 1 CPU."""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse

from apps.experiments.models import Experiment
from apps.orchestration.argo import get_client
from apps.pipelines.services import create_version
from apps.runs.constants import RunState, StepPhase
from apps.runs.services import create_run
from apps.runs.sync import sync_active_runs
from apps.runs.tasks import submit_run
from tests.integration.helpers import sync_until_finished
from tests.processes import EngineProcess

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]
HX = {"HX-Request": "true"}

TWO_CPUS = b"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: two-cpus-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - {name: first, template: one-cpu}
          - {name: second, template: one-cpu}
    - name: one-cpu
      container:
        image: busybox
        command: [sh, -c]
        args: ["sleep 3; echo done"]
        resources:
          requests: {cpu: "1"}
"""


@pytest.fixture
def one_cpu(settings, tmp_path):
    proc = EngineProcess(tmp_path / "data", extra=["--capacity-cpu", "1"]).start()
    settings.ARGO_SERVER = proc.url
    settings.ARGO_NAMESPACE = "argo"
    settings.ARGO_TIMEOUT_SECONDS = 10
    yield proc
    proc.stop()


def test_the_run_page_shows_why_a_step_waits(one_cpu, auth_client):
    version = create_version(upload_name="cpus.yaml", data=TWO_CPUS, pipeline_name="cpus")
    experiment = Experiment.objects.create(name="cpus experiment")
    run = create_run(version=version, experiment=experiment, parameters={})
    assert submit_run(str(run.id)) == "created"
    client = get_client()
    deadline = time.monotonic() + 60
    waiting = None
    while waiting is None:
        assert time.monotonic() < deadline, list(run.steps.values("display_name", "message"))
        sync_active_runs(client)
        waiting = run.steps.filter(message__contains="Insufficient cpu").first()
        time.sleep(0.3)
    assert waiting.phase == StepPhase.PENDING
    assert waiting.message == (
        "Unschedulable: 0/1 nodes are available: 1 Insufficient cpu. (cpu: requested 1, free 0)"
    )
    url = reverse("runs:node", args=[run.pk, waiting.display_name])
    panel = auth_client.get(url, headers=HX).content.decode()
    assert "Unschedulable: 0/1 nodes are available: 1 Insufficient cpu." in panel
    # the banner and the graph node's tooltip say it too, on the page and in its poll
    reason = f"Step “{waiting.display_name}” is waiting: {waiting.message}"
    page = auth_client.get(run.get_absolute_url()).content.decode()
    assert reason in page
    title = re.search(rf'data-node="{waiting.display_name}"[^>]*><title>([^<]*)</title>', page)
    assert title and title.group(1).endswith("\nPending\n" + waiting.message), page
    poll = auth_client.get(reverse("runs:status", args=[run.pk]), headers=HX).content.decode()
    assert reason in poll and "run-waiting-data" in poll

    run = sync_until_finished(run)
    assert run.state == RunState.SUCCEEDED, run.message
    config = auth_client.get(url + "?panel=config", headers=HX).content.decode()
    assert "image busybox not used: the engine runs with --executor host" in config
    assert "Not enforced by the embedded engine on this machine: image, cpu" in config
