"""A run from upload to metrics, against the embedded engine over real HTTP."""

from __future__ import annotations

import pytest

from apps.experiments.models import Experiment
from apps.orchestration.argo import get_client
from apps.pipelines.graph import graph_from_manifest
from apps.pipelines.services import create_version
from apps.runs.constants import ArtifactKind, RunState, StepPhase
from apps.runs.services import create_run
from apps.runs.tasks import submit_run
from tests.integration.helpers import ROOT, sync_until_finished, zip_folder

RAN_PHASES = (StepPhase.SUCCEEDED, StepPhase.FAILED, StepPhase.ERROR)
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(400)]


def start(folder: str, parameters: dict):
    version = create_version(
        upload_name=f"{folder}.zip",
        data=zip_folder(ROOT / "examples" / folder),
        pipeline_name=f"{folder} pipeline",
    )
    experiment = Experiment.objects.create(name=f"{folder} experiment")
    # The queued submit goes to the broker, where no worker listens in this test: the test
    # plays the worker and calls the task's body itself.
    return create_run(version=version, experiment=experiment, parameters=parameters)


@pytest.mark.slow
def test_demo_run_end_to_end(argo):
    run = start("demo", {"MAX_DEPTH": "3"})
    assert run.parameters["MAX_DEPTH"] == "3" and run.parameters["TEST_FRACTION"] == "0.25"
    assert submit_run(str(run.id)) == "created"
    assert submit_run(str(run.id)) == "already submitted"

    run = sync_until_finished(run)
    assert run.state == RunState.SUCCEEDED, run.message
    assert run.progress_done == run.progress_total == 4
    assert run.started_at and run.finished_at and run.finished_at >= run.started_at

    steps = {step.display_name: step for step in run.steps.filter(node_type="Pod")}
    assert set(steps) == {"prepare-data", "profile-data", "train-model", "evaluate-model"}
    assert all(step.phase == StepPhase.SUCCEEDED for step in steps.values())
    assert all(step.log_fetched for step in steps.values())
    assert "[ydp]" in steps["train-model"].log

    metrics = {metric.name: metric.value for metric in run.metrics.all()}
    assert 0.0 <= metrics["accuracy"] <= 1.0
    # The training notebook's learning curve (log_metric): one point per depth, the last one
    # also the run's metric.
    curve = list(
        run.metric_points.filter(name="test-loss").order_by("index").values_list("index", "value")
    )
    assert [index for index, _ in curve] == [1, 2, 3]
    assert metrics["test-loss"] == curve[-1][1]
    kinds = set(run.artifacts.values_list("kind", flat=True))
    assert {ArtifactKind.CONFUSION_MATRIX, ArtifactKind.HTML, ArtifactKind.ROC} <= kinds
    matrix = run.artifacts.get(kind=ArtifactKind.CONFUSION_MATRIX)
    total = sum(sum(row) for row in matrix.data["matrix"])
    assert total > 0 and len(matrix.data["labels"]) == 2

    # The workflow is labelled so that the sync finds it with one selector.
    workflow = get_client().get_workflow(run.workflow_name)
    assert workflow["metadata"]["labels"]["ydpipelines.io/run"] == str(run.id)


def test_failing_step_shows_failed_with_traceback_and_later_steps_not_run(
    argo,
):
    run = start("failing", {})
    submit_run(str(run.id))
    run = sync_until_finished(run)
    assert run.state == RunState.FAILED
    failed = run.steps.get(phase=StepPhase.FAILED, node_type="Pod")
    assert "Traceback" in failed.log or "Error" in failed.log
    assert "ValueError" in failed.log
    # The run says which step failed and why, read from the step's log.
    run.refresh_from_db()
    assert "check-numbers" in run.message and "raised ValueError" in run.message, run.message
    assert "negative" in failed.message
    # The steps after the failure never ran: Argo either makes no node for them or marks them
    # Omitted; either way the run's graph shows them as not run.
    graph = graph_from_manifest(run.pipeline_version.manifest, run.pipeline_version.spec)
    ran = {s.display_name: s.phase for s in run.steps.all()}
    not_run = [node.key for node in graph.nodes if ran.get(node.key) not in RAN_PHASES]
    assert not_run == ["report"], ran
    assert ran.get("report") in (None, StepPhase.OMITTED, StepPhase.SKIPPED)


def test_repeated_submit_never_makes_a_second_workflow(argo):
    run = start("failing", {})
    assert submit_run(str(run.id)) == "created"
    # A worker that died after Argo created the workflow but before the row was updated.
    type(run).objects.filter(pk=run.pk).update(submitted_at=None)
    assert submit_run(str(run.id)) == "existed"
    listed = get_client().list_workflows(label_selector=f"ydpipelines.io/run={run.id}")
    assert len(listed) == 1
    get_client().terminate_workflow(run.workflow_name)
