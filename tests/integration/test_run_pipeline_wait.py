"""`manage.py run_pipeline --wait` against the embedded engine over real HTTP: it watches the
workflow and syncs the run itself when the workflow ends, so it returns without beat, once the
steps' outputs are copied (by a worker: played here by a thread)."""

from __future__ import annotations

import io
import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from apps.orchestration.argo import ArgoNotFound, get_client
from apps.pipelines.services import create_version
from apps.runs.constants import RunState, StepPhase
from apps.runs.models import STEP_OUTPUTS_PENDING, Run, Step
from apps.runs.tasks import fetch_outputs, submit_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def workflow(command: str) -> bytes:
    return f"""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: quick-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: first
        template: nap
      - name: last
        template: step
        depends: first
  - name: nap
    container:
      image: busybox
      command: [sh, -c, "sleep 1"]
  - name: step
    container:
      image: busybox
      command: [sh, -c, "{command}"]
""".encode()


def play_the_worker(stop: threading.Event, copy: bool = True) -> None:
    """No worker listens to the queue in this test: submit the command's run once it exists
    (a little later than a worker would, so the command first waits for the submit), then copy
    each finished step's outputs, a little later than a worker would (unless ``copy`` is off)."""
    try:
        while not stop.is_set():
            run = Run.objects.filter(submitted_at__isnull=True).first()
            if run is not None:
                time.sleep(0.5)
                submit_run(str(run.id))
                break
            time.sleep(0.1)
        while copy and not stop.is_set():
            for step_id in Step.objects.filter(STEP_OUTPUTS_PENDING).values_list("pk", flat=True):
                time.sleep(0.5)
                fetch_outputs(step_id)
            time.sleep(0.1)
    finally:
        connection.close()


def run_and_wait(
    version_ref: str, *extra: str, copy: bool = True
) -> tuple[str, CommandError | None]:
    stop = threading.Event()
    worker = threading.Thread(target=play_the_worker, args=(stop, copy))
    worker.start()
    out = io.StringIO()
    error = None
    try:
        call_command(
            "run_pipeline", version_ref, "--experiment", "wait", "--wait", *extra, stdout=out
        )
    except CommandError as exc:
        error = exc
    finally:
        stop.set()
        worker.join()
    return out.getvalue(), error


def test_wait_returns_the_end_without_beat_and_the_run_is_synced(argo):
    create_version(upload_name="quick.yaml", data=workflow("echo done"), pipeline_name="quick")
    out, error = run_and_wait("quick", "--timeout", "120")
    assert error is None, out
    run_id, state = out.split()
    assert state == RunState.SUCCEEDED
    # Nothing else synced (no beat runs here): the command copied the end and the steps.
    run = Run.objects.get(pk=run_id)
    assert run.state == RunState.SUCCEEDED and run.finished_at is not None
    assert run.progress_done == run.progress_total == 2
    phases = dict(run.steps.filter(node_type="Pod").values_list("display_name", "phase"))
    assert phases == {"first": StepPhase.SUCCEEDED, "last": StepPhase.SUCCEEDED}
    # ... and it returned once the steps' outputs were copied: the last log is readable.
    last = run.steps.get(display_name="last")
    assert last.log_fetched and "done" in last.log


@pytest.mark.slow
def test_wait_says_when_the_outputs_are_not_copied_in_time(argo):
    create_version(upload_name="quick.yaml", data=workflow("echo done"), pipeline_name="quick")
    out, error = run_and_wait("quick", "--timeout", "20", copy=False)
    run_id = out.split()[0]
    assert error is not None
    assert str(error) == (
        f"run {run_id} ended {RunState.SUCCEEDED}, but its outputs are still being copied "
        "after 20 s (is a worker running?)"
    )


def test_wait_fails_with_the_runs_end_when_a_step_fails(argo):
    create_version(upload_name="bad.yaml", data=workflow("exit 3"), pipeline_name="bad")
    out, error = run_and_wait("bad", "--timeout", "120")
    run_id = out.split()[0]
    assert error is not None and str(error) == f"run {run_id} ended {RunState.FAILED}"
    assert Run.objects.get(pk=run_id).state == RunState.FAILED


def test_wait_gives_up_after_its_timeout_on_a_run_never_submitted(argo):
    create_version(upload_name="quick.yaml", data=workflow("exit 0"), pipeline_name="quick")
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"still Pending after 1 s"):
        call_command(
            "run_pipeline", "quick", "--experiment", "w", "--wait", "--timeout", "1", stdout=out
        )


def test_the_watch_of_an_unknown_workflow_is_not_found(argo):
    with pytest.raises(ArgoNotFound):
        get_client().wait_for_end("no-such-workflow", timeout=1)
