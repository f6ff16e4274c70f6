"""At upload and on the version page: would the configured Argo run this pipeline? Against the
real embedded engine, which refuses a resource template as `unsupported: <field path>`."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.orchestration.argo import ArgoError, get_client
from apps.pipelines.models import EngineCheck, PipelineVersion
from tests.experiments.builders import closed_port_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

RESOURCE_YAML = b"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: make-cm-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - {name: hello, template: hello}
          - {name: make-map, template: make-map, depends: hello}
    - name: hello
      container: {image: busybox, command: [echo, hi]}
    - name: make-map
      resource:
        action: create
        manifest: |
          apiVersion: v1
          kind: ConfigMap
          metadata: {generateName: x-}
"""
PLAIN_YAML = RESOURCE_YAML.split(b"    - name: make-map\n      resource")[0].replace(
    b"          - {name: make-map, template: make-map, depends: hello}\n", b""
)


def upload(client, data: bytes, name: str):
    file = io.BytesIO(data)
    file.name = f"{name}.yaml"
    payload = {"target": "new", "name": name, "version_name": "", "description": ""}
    return client.post(reverse("pipelines:upload"), {**payload, "file": file})


def test_lint_workflow_names_the_refused_field(argo):
    import yaml

    with pytest.raises(ArgoError) as refused:
        get_client().lint_workflow(yaml.safe_load(RESOURCE_YAML))
    assert refused.value.status == 400
    assert "unsupported: spec.templates[2].resource" in str(refused.value)
    assert get_client().lint_workflow(yaml.safe_load(PLAIN_YAML))["kind"] == "Workflow"


def test_upload_of_a_pipeline_the_engine_refuses_warns_on_the_version_page(argo, auth_client):
    response = upload(auth_client, RESOURCE_YAML, "configmaps")
    assert response.status_code == 302  # never blocked
    version = PipelineVersion.objects.get()
    check = EngineCheck.objects.get(version=version)
    assert check.outcome == "refused" and check.server == argo.url
    page = auth_client.get(response["Location"]).content.decode()
    assert (
        "The embedded engine cannot run this pipeline: unsupported: spec.templates[2].resource"
        in page
    )
    # Every tab says so, from the stored check: no second lint.
    page = auth_client.get(response["Location"], {"tab": "yaml"}).content.decode()
    assert 'data-engine-check="refused"' in page
    assert EngineCheck.objects.get(version=version).checked_at == check.checked_at


def test_accepted_pipeline_shows_no_warning(argo, auth_client):
    response = upload(auth_client, PLAIN_YAML, "plain")
    assert EngineCheck.objects.get().outcome == "ok"
    assert "data-engine-check" not in auth_client.get(response["Location"]).content.decode()


def test_unreachable_argo_at_upload_then_checked_when_viewed(argo, auth_client, settings):
    settings.ARGO_SERVER = closed_port_url()
    response = upload(auth_client, RESOURCE_YAML, "later")
    assert response.status_code == 302
    version = PipelineVersion.objects.get()
    check = EngineCheck.objects.get(version=version)
    assert check.outcome == "unchecked" and "unreachable" in check.message
    page = auth_client.get(response["Location"]).content.decode()
    assert "could not be checked" in page and "unreachable" in page
    assert EngineCheck.objects.get().checked_at == check.checked_at  # cached a minute

    # A minute later, with Argo back: the page asks again.
    settings.ARGO_SERVER = argo.url
    EngineCheck.objects.update(checked_at=timezone.now() - timedelta(minutes=2))
    page = auth_client.get(response["Location"]).content.decode()
    assert "cannot run this pipeline: unsupported: spec.templates[2].resource" in page
    assert EngineCheck.objects.get().outcome == "refused"
