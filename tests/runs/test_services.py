import pytest
from django.core.exceptions import ValidationError

from apps.experiments.models import Experiment
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.runs.models import Run
from apps.runs.services import create_run, workflow_name_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def version():
    pipeline = Pipeline.objects.create(name="p")
    return PipelineVersion.objects.create(
        pipeline=pipeline,
        name="v1",
        source_format="argo",
        source_filename="p.yaml",
        bundle="bundles/x.zip",
        manifest={"kind": "Workflow"},
        parameters=[{"name": "n", "type": "Integer", "default": 2, "required": False}],
        node_count=3,
        content_hash="0" * 64,
    )


def test_a_run_is_pending_and_its_submit_is_queued_once_after_commit(
    version, django_capture_on_commit_callbacks
):
    experiment = Experiment.objects.create(name="e")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = create_run(version=version, experiment=experiment, parameters={"n": "5"})
    assert len(callbacks) == 1
    assert run.state == "Pending" and run.parameters == {"n": "5"}
    assert run.workflow_name == workflow_name_for(run) == f"run-{run.id.hex}"
    assert run.progress_total == 3
    assert run.name == "p v1"


def test_bad_parameters_store_nothing_and_queue_nothing(
    version, django_capture_on_commit_callbacks
):
    experiment = Experiment.objects.create(name="e")
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        pytest.raises(ValidationError),
    ):
        create_run(version=version, experiment=experiment, parameters={"n": "x"})
    assert callbacks == []
    assert not Run.objects.exists()
