"""Deletes in the Django admin go through the pages' services: a recurring run's CronWorkflow
leaves Argo with it (or, Argo away, nothing is deleted), bundle files leave the disk, and runs and
experiments are deleted only when archived."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.experiments.models import Experiment
from apps.orchestration.argo import ArgoNotFound, get_client
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.recurring.models import RecurringRun
from apps.recurring.services import create_recurring_run
from apps.runs.models import Run
from tests.experiments.builders import closed_port_url, make_experiment, make_run, make_version
from tests.recurring.fixtures import hello_version, schedule_settings

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


@pytest.fixture
def recurring(argo):
    version = hello_version(pipeline_name=f"hello {time.monotonic_ns()}")
    experiment = Experiment.objects.create(name=f"admin {time.monotonic_ns()}")
    return create_recurring_run(schedule_settings(version, experiment))


def test_admin_delete_removes_the_cron_workflow(recurring, admin_client):
    url = reverse("admin:recurring_recurringrun_delete", args=[recurring.pk])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not RecurringRun.objects.filter(pk=recurring.pk).exists()
    with pytest.raises(ArgoNotFound):
        get_client().get_cron_workflow(recurring.cron_workflow_name)


def test_admin_delete_with_argo_away_keeps_the_row(recurring, admin_client, settings):
    settings.ARGO_SERVER = closed_port_url()
    settings.ARGO_TIMEOUT_SECONDS = 1
    url = reverse("admin:recurring_recurringrun_delete", args=[recurring.pk])
    response = admin_client.post(url, {"post": "yes"}, follow=True)
    assert RecurringRun.objects.filter(pk=recurring.pk).exists()
    assert "Not deleted: Argo did not delete the schedule" in _messages(response)
    assert response.redirect_chain[-1][0].endswith(f"/{recurring.pk}/change/")


def test_admin_bulk_delete_removes_each_cron_workflow(argo, admin_client):
    version = hello_version(pipeline_name=f"hello {time.monotonic_ns()}")
    experiment = Experiment.objects.create(name=f"bulk {time.monotonic_ns()}")
    made = [
        create_recurring_run(schedule_settings(version, experiment, name=f"nightly {i}"))
        for i in range(2)
    ]
    response = admin_client.post(
        reverse("admin:recurring_recurringrun_changelist"),
        {"action": "delete_selected", "_selected_action": [r.pk for r in made], "post": "yes"},
    )
    assert response.status_code == 302
    assert not RecurringRun.objects.exists()
    for rr in made:
        with pytest.raises(ArgoNotFound):
            get_client().get_cron_workflow(rr.cron_workflow_name)


def test_admin_deletes_a_version_and_its_bundle_file(admin_client):
    version = hello_version(pipeline_name="bundled")
    bundle = Path(version.bundle.path)
    assert bundle.exists()
    url = reverse("admin:pipelines_pipelineversion_delete", args=[version.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not PipelineVersion.objects.filter(pk=version.pk).exists()
    assert not bundle.exists()


def test_admin_deletes_a_pipeline_and_every_bundle_file(admin_client):
    first = hello_version(pipeline_name="two versions")
    second = hello_version(pipeline=first.pipeline, version_name="v2")
    files = [Path(first.bundle.path), Path(second.bundle.path)]
    url = reverse("admin:pipelines_pipeline_delete", args=[first.pipeline_id])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Pipeline.objects.exists()
    assert not any(path.exists() for path in files)


def test_admin_run_delete_follows_the_archive_rule(admin_client):
    active = make_run(make_version(), make_experiment())
    archived = make_run(active.pipeline_version, active.experiment, archived_at=timezone.now())
    response = admin_client.post(
        reverse("admin:runs_run_delete", args=[active.pk]), {"post": "yes"}, follow=True
    )
    assert Run.objects.filter(pk=active.pk).exists()
    assert "is not archived: archive it first" in _messages(response)

    response = admin_client.post(
        reverse("admin:runs_run_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [str(active.pk), str(archived.pk)],
            "post": "yes",
        },
        follow=True,
    )
    assert list(Run.objects.values_list("pk", flat=True)) == [active.pk]
    assert "Deleted 1 of 2. Not deleted:" in _messages(response)


def test_admin_experiment_delete_needs_it_archived(admin_client):
    experiment = make_experiment("kept")
    response = admin_client.post(
        reverse("admin:experiments_experiment_delete", args=[experiment.pk]),
        {"post": "yes"},
        follow=True,
    )
    assert Experiment.objects.filter(pk=experiment.pk).exists()
    assert "is not archived: archive it first" in _messages(response)
    experiment.archived_at = timezone.now()
    experiment.save()
    admin_client.post(
        reverse("admin:experiments_experiment_delete", args=[experiment.pk]), {"post": "yes"}
    )
    assert not Experiment.objects.filter(pk=experiment.pk).exists()
