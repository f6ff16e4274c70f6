"""Stored files are never served raw under MEDIA_URL, with DEBUG on or off; the admin links
to the views that sandbox them (or force a download) instead of to /media/."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.runs.constants import ArtifactKind, StepPhase
from tests.experiments.builders import make_experiment, make_run, make_step, make_version
from tests.runs.test_catalog_filters import add_artifact

pytestmark = pytest.mark.django_db
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


@pytest.fixture
def svg():
    run = make_run(make_version(), make_experiment(), state="Succeeded")
    step = make_step(run, "plot", StepPhase.SUCCEEDED)
    return add_artifact(run, step, "plot.svg", ArtifactKind.IMAGE, SVG, "image/svg+xml")


def test_no_media_route_in_any_mode(debug_mode, admin_client, svg):
    assert admin_client.get(f"/media/{svg.file.name}").status_code == 404
    served = admin_client.get(reverse("runs:artifact", args=[svg.run_id, svg.pk]))
    assert served.status_code == 200
    assert served["Content-Security-Policy"].startswith("sandbox")


def test_admin_links_to_the_sandboxed_download(admin_client, svg):
    page = admin_client.get(reverse("admin:runs_artifact_change", args=[svg.pk])).content.decode()
    assert "/media/" not in page
    assert reverse("runs:artifact_download", args=[svg.run_id, svg.pk]) in page


def test_admin_links_to_the_bundle_download(admin_client):
    version = make_version(bundle=SimpleUploadedFile("bundle.zip", b"PK"))
    page = admin_client.get(reverse("admin:pipelines_pipelineversion_change", args=[version.pk]))
    body = page.content.decode()
    assert page.status_code == 200 and "/media/" not in body
    assert reverse("pipelines:version_bundle", args=[version.pipeline_id, version.pk]) in body
