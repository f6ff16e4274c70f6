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


def test_an_archived_experiment_takes_no_new_runs(version):
    from django.utils import timezone

    experiment = Experiment.objects.create(name="old", archived_at=timezone.now())
    with pytest.raises(ValidationError) as info:
        create_run(version=version, experiment=experiment)
    assert "archived" in info.value.message_dict["experiment"][0]
    assert not Run.objects.exists()


def test_a_recurring_run_of_an_archived_experiment_cannot_be_enabled(version):
    from django.utils import timezone

    from apps.recurring.models import RecurringRun
    from apps.recurring.services import RecurringError, set_enabled

    experiment = Experiment.objects.create(name="old", archived_at=timezone.now())
    recurring = RecurringRun.objects.create(
        name="nightly",
        experiment=experiment,
        pipeline=version.pipeline,
        trigger_type="cron",
        cron="0 3 * * *",
        enabled=False,
        cron_workflow_name="cron-x",
        namespace="argo",
    )
    with pytest.raises(RecurringError, match="archived"):
        set_enabled(recurring, True)
    recurring.refresh_from_db()
    assert recurring.enabled is False


def test_finished_steps_whose_outputs_were_never_copied_are_queued_again(version, settings):
    from datetime import timedelta

    from django.utils import timezone

    from apps.runs.models import Step
    from apps.runs.tasks import fetch_missing_outputs

    settings.YDP_SUBMIT_STALE_SECONDS = 30
    run = create_run(version=version, experiment=Experiment.objects.create(name="e"))
    old = timezone.now() - timedelta(minutes=5)
    common = {"run": run, "node_type": "Pod", "finished_at": old}
    Step.objects.create(node_id="a", name="a", display_name="a", phase="Failed", **common)
    Step.objects.create(
        node_id="b", name="b", display_name="b", phase="Succeeded", log_fetched=True, **common
    )
    Step.objects.create(
        node_id="c",
        name="c",
        display_name="c",
        phase="Succeeded",
        node_type="Pod",
        run=run,
        finished_at=timezone.now(),
    )
    Step.objects.create(node_id="d", name="d", display_name="d", phase="Running", run=run)
    assert fetch_missing_outputs() == 1  # only "a": copied, too recent and running ones wait
