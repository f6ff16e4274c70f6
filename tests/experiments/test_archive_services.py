"""Archiving an experiment against the embedded engine: its recurring runs are disabled (their
CronWorkflows suspended), restore says what it brings back, delete only from the archive."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from apps.experiment_archive.services import (
    ExperimentArchiveError,
    archive_experiment,
    delete_experiment,
    restore_experiment,
)
from apps.experiments.models import Experiment
from apps.orchestration.argo import ArgoNotFound, get_client
from apps.recurring.models import RecurringRun
from apps.recurring.services import create_recurring_run
from apps.runs.constants import RunState
from apps.runs.models import Artifact, Run
from tests.experiments.builders import closed_port_url, make_run
from tests.recurring.fixtures import hello_version, schedule_settings

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def version():
    return hello_version(pipeline_name=f"hello {time.monotonic_ns()}")


@pytest.fixture
def experiment():
    return Experiment.objects.create(name=f"exp {time.monotonic_ns()}")


def _suspended(recurring: RecurringRun) -> bool:
    cron = get_client().get_cron_workflow(recurring.cron_workflow_name)
    return bool(cron["spec"].get("suspend"))


def test_archive_disables_recurring_runs_and_restore_keeps_them_disabled(argo, version, experiment):
    nightly = create_recurring_run(schedule_settings(version, experiment))
    hourly = create_recurring_run(schedule_settings(version, experiment, name="hourly"))
    off = create_recurring_run(schedule_settings(version, experiment, name="off", enabled=False))
    for state in (RunState.SUCCEEDED, RunState.FAILED, RunState.SUCCEEDED):
        make_run(version, experiment, state=state)

    result = archive_experiment(experiment)

    assert (result.runs, result.recurring_disabled) == (3, 2)
    assert result.message(experiment) == (
        f"Archived “{experiment.name}” and 3 runs; 2 recurring runs disabled. "
        "Find them under Archived; Restore brings them back."
    )
    assert not RecurringRun.objects.filter(enabled=True).exists()
    assert _suspended(nightly) and _suspended(hourly) and _suspended(off)
    assert Run.objects.filter(archived_at=experiment.archived_at).count() == 3

    restored = restore_experiment(Experiment.objects.get(pk=experiment.pk))
    assert (restored.runs, restored.recurring_disabled) == (3, 3)
    assert restored.message(experiment) == (
        f"Restored experiment “{experiment.name}” and the 3 runs archived with it; "
        "3 recurring runs stay disabled — enable them on their pages."
    )
    assert not Run.objects.filter(archived_at__isnull=False).exists()
    assert _suspended(nightly)  # a schedule does not start again by itself


def test_archive_refuses_while_a_run_is_active(argo, version, experiment):
    recurring = create_recurring_run(schedule_settings(version, experiment))
    make_run(version, experiment, state=RunState.RUNNING, name="still going")
    with pytest.raises(
        ExperimentArchiveError, match=r"1 active run \(“still going”\): terminate it"
    ):
        archive_experiment(experiment)
    assert Experiment.objects.get().archived_at is None
    assert RecurringRun.objects.get().enabled
    assert not _suspended(recurring)


def test_argo_away_archives_nothing(argo, version, experiment, settings):
    create_recurring_run(schedule_settings(version, experiment))
    make_run(version, experiment, state=RunState.SUCCEEDED)
    settings.ARGO_SERVER = closed_port_url()
    with pytest.raises(ExperimentArchiveError, match="Could not disable the recurring run"):
        archive_experiment(experiment)
    assert Experiment.objects.get().archived_at is None
    assert RecurringRun.objects.get().enabled
    assert Run.objects.get().archived_at is None


def test_delete_only_from_the_archive_removes_runs_files_and_schedules(
    argo, version, experiment, media_root
):
    recurring = create_recurring_run(schedule_settings(version, experiment))
    run = make_run(version, experiment, state=RunState.SUCCEEDED)
    artifact = Artifact(run=run, name="report", kind="markdown", size=5)
    from django.core.files.base import ContentFile

    artifact.file.save("report.md", ContentFile(b"# hi\n"))
    path = media_root / artifact.file.name
    assert path.exists()

    with pytest.raises(ExperimentArchiveError, match=r"is not archived: archive it first"):
        delete_experiment(experiment)
    assert path.exists()

    archive_experiment(experiment)
    result = delete_experiment(Experiment.objects.get())
    assert (result.runs, result.recurring_runs, result.files) == (1, 1, 1)
    assert not Experiment.objects.exists() and not Run.objects.exists()
    assert not RecurringRun.objects.exists()
    assert not path.exists() and not path.parent.exists()
    with pytest.raises(ArgoNotFound):
        get_client().get_cron_workflow(recurring.cron_workflow_name)


def test_delete_view_confirms_then_deletes(argo, version, experiment, auth_client):
    make_run(version, experiment, state=RunState.SUCCEEDED)
    url = reverse("experiments:delete", args=[experiment.pk])
    refused = auth_client.post(url, follow=True)
    assert "is not archived: archive it first" in refused.content.decode()
    assert Experiment.objects.exists()
    archive_experiment(experiment)
    confirm = auth_client.get(url).content.decode()
    assert "deletes the experiment for good, with its 1 run" in confirm
    assert Experiment.objects.exists()
    done = auth_client.post(url, follow=True).content.decode()
    assert f"Deleted experiment “{experiment.name}”, 1 run and 0 artifact files." in done
    assert not Experiment.objects.exists()
