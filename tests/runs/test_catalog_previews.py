"""An artifact's preview from the Artifacts list: each kind shown its own way, HTML only in a
sandboxed frame served with a restrictive CSP, markdown rendered and sanitized."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.runs.constants import ArtifactKind, StepPhase
from tests.experiments.builders import make_experiment, make_run, make_step, make_version
from tests.runs.test_catalog_filters import add_artifact

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def step():
    run = make_run(make_version(), make_experiment(), name="nightly", state="Succeeded")
    return make_step(run, "evaluate", StepPhase.SUCCEEDED)


def preview(client, artifact, htmx=True):
    url = reverse("artifacts:detail", args=[artifact.pk])
    response = client.get(url, headers=HTMX if htmx else {})
    assert response.status_code == 200
    return response.content.decode()


def test_html_in_a_sandboxed_frame_with_csp(auth_client, step):
    artifact = add_artifact(
        step.run, step, "report", ArtifactKind.HTML, b"<script>alert(1)</script>", "text/html"
    )
    body = preview(auth_client, artifact)
    frame_src = reverse("runs:artifact", args=[step.run.pk, artifact.pk])
    assert f'<iframe class="artifact-frame" sandbox src="{frame_src}"' in body
    assert "<script>alert(1)</script>" not in body
    served = auth_client.get(frame_src)
    assert served["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert "frame-ancestors 'self'" in served["Content-Security-Policy"]


def test_markdown_rendered_and_sanitized(auth_client, step):
    text = b"# Results\n\n**good** <script>alert(1)</script> <img src=x onerror=alert(2)>"
    artifact = add_artifact(step.run, step, "notes", ArtifactKind.MARKDOWN, text, "text/markdown")
    body = preview(auth_client, artifact)
    assert "<h1>Results</h1>" in body and "<strong>good</strong>" in body
    assert "<script>alert(1)" not in body and "onerror" not in body


def test_table_rows(auth_client, step):
    artifact = add_artifact(step.run, step, "scores", ArtifactKind.TABLE, b"name,score\nann,0.9\n")
    body = preview(auth_client, artifact)
    assert '<th scope="col">score</th>' in body and "<td>ann</td>" in body


def test_image_inline(auth_client, step):
    artifact = add_artifact(step.run, step, "plot", ArtifactKind.IMAGE, b"\x89PNG", "image/png")
    body = preview(auth_client, artifact)
    src = reverse("runs:artifact", args=[step.run.pk, artifact.pk])
    assert f'<img class="artifact-image" src="{src}"' in body


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (ArtifactKind.CONFUSION_MATRIX, {"labels": ["no", "yes"], "matrix": [[5, 1], [2, 7]]}),
        (ArtifactKind.ROC, {"points": [[0, 0, ""], [0.2, 0.8, 0.5], [1, 1, ""]]}),
    ],
)
def test_charts_for_echarts(auth_client, step, kind, data):
    artifact = add_artifact(step.run, step, "chart", kind, data=data)
    body = preview(auth_client, artifact)
    assert f'data-chart="{kind}"' in body and "data-chart-json=" in body
    if kind == ArtifactKind.CONFUSION_MATRIX:  # a table until ECharts draws it
        assert '<td class="num">7</td>' in body


def test_other_files_are_downloads(auth_client, step):
    artifact = add_artifact(step.run, step, "model.bin", ArtifactKind.FILE, b"\x00\x01")
    body = preview(auth_client, artifact)
    download = reverse("runs:artifact_download", args=[step.run.pk, artifact.pk])
    assert f'href="{download}"' in body and "No preview for this kind of file" in body


def test_htmx_answers_the_drawer_and_a_plain_get_a_page(auth_client, step):
    artifact = add_artifact(step.run, step, "notes", ArtifactKind.MARKDOWN, b"hi")
    drawer = preview(auth_client, artifact)
    assert drawer.lstrip().startswith('<section class="catalog-preview"')
    assert '<h2 id="preview-title">notes</h2>' in drawer and "data-drawer-close" in drawer
    assert '?node=evaluate">evaluate</a>' in drawer
    page = preview(auth_client, artifact, htmx=False)
    assert "<html" in page and '<h1 id="preview-title">notes</h1>' in page
    assert f'<a href="{reverse("artifacts:list")}">Artifacts</a>' in page  # breadcrumb


def test_unknown_artifact_is_404(auth_client):
    assert auth_client.get(reverse("artifacts:detail", args=[999_999])).status_code == 404
