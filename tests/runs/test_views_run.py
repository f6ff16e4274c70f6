"""The run page: header, live graph phases, the poll that stops with 286, the step panel
(artifacts, config, logs), the artifact files' headers, run output, actions, query counts."""

from __future__ import annotations

import re

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from apps.runs.constants import ArtifactKind, RunState, StepPhase
from apps.runs.models import Artifact, Metric, Run
from tests.experiments.builders import (
    closed_port_url,
    make_experiment,
    make_run,
    make_step,
    make_version,
)

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def run():
    return make_run(make_version(), make_experiment("exp"), submitted_at=timezone.now())


def node_classes(body: str) -> dict[str, str]:
    return {
        key: re.search(r"phase-([a-z]+)", cls).group(1)
        for cls, key in re.findall(r'<g class="(node [^"]*)" data-node="([^"]+)"', body)
    }


def add_artifact(run, step, name, kind, content=b"", media_type="", data=None):
    artifact = Artifact(
        run=run, step=step, name=name, kind=kind, media_type=media_type, data=data or {}
    )
    if content:
        artifact.file.save(f"{step.node_id}/{name}", ContentFile(content), save=False)
        artifact.size = len(content)
    artifact.save()
    return artifact


@pytest.mark.parametrize("name", ["runs:detail", "runs:status", "runs:terminate", "runs:retry"])
def test_pages_need_login(client, run, name):
    response = client.get(reverse(name, args=[run.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_active_run_page_shows_the_whole_graph_and_polls(auth_client, run):
    make_step(run, "prepare", StepPhase.SUCCEEDED, started_at=timezone.now())
    make_step(run, "train", StepPhase.RUNNING, started_at=timezone.now())
    response = auth_client.get(run.get_absolute_url())
    body = response.content.decode()
    assert node_classes(body) == {
        "prepare": "succeeded",
        "train": "running",
        "evaluate": "pending",  # not started yet, drawn from the start
    }
    status_url = reverse("runs:status", args=[run.pk])
    assert f'hx-get="{status_url}" hx-trigger="every 1s, ydp-push"' in body
    assert "exp" in body and "churn" in body and "epochs=<strong>5</strong>" in body
    assert 'data-dialog="terminate-dialog"' in body
    assert f"{reverse('runs:create')}?clone={run.pk}" in body


def test_retry_node_beats_its_failed_attempt(auth_client, run):
    make_step(run, "train", StepPhase.RUNNING, node_type="Retry")
    make_step(run, "train(0)", StepPhase.FAILED, name=f"{run.workflow_name}.train(0)")
    make_step(run, "train(1)", StepPhase.RUNNING, name=f"{run.workflow_name}.train(1)")
    body = auth_client.get(run.get_absolute_url()).content.decode()
    assert node_classes(body)["train"] == "running"


def test_final_run_marks_steps_that_never_ran(auth_client, run):
    make_step(run, "prepare", StepPhase.FAILED, artifacts_fetched=True)
    Run.objects.filter(pk=run.pk).update(
        state=RunState.FAILED, finished_at=timezone.now(), message="prepare failed"
    )
    body = auth_client.get(run.get_absolute_url()).content.decode()
    assert node_classes(body) == {"prepare": "failed", "train": "omitted", "evaluate": "omitted"}
    assert "hx-trigger" not in body.split('id="run-status"')[1].split(">")[0]
    assert "prepare failed" in body
    assert 'data-dialog="retry-dialog"' in body and "Terminate…" not in body


def test_poll_while_active_keeps_polling(auth_client, run):
    make_step(run, "prepare", StepPhase.RUNNING)
    response = auth_client.get(reverse("runs:status", args=[run.pk]), headers=HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="run-status"')
    assert 'hx-trigger="every 1s, ydp-push"' in body
    assert 'id="run-phases" hidden hx-swap-oob="true"' in body
    assert '"prepare": "Running"' in body


def test_poll_stops_with_286_and_the_final_render(auth_client, run):
    make_step(run, "prepare", StepPhase.SUCCEEDED, artifacts_fetched=True)
    make_step(run, "train", StepPhase.SUCCEEDED, artifacts_fetched=True)
    make_step(run, "evaluate", StepPhase.SUCCEEDED, artifacts_fetched=True)
    Run.objects.filter(pk=run.pk).update(
        state=RunState.SUCCEEDED, progress_done=3, finished_at=timezone.now()
    )
    response = auth_client.get(reverse("runs:status", args=[run.pk]), headers=HX)
    assert response.status_code == 286
    body = response.content.decode()
    # htmx 2 swaps a 286 answer, then stops: the answer is the final header, without a trigger.
    assert "hx-trigger" not in body
    assert "Succeeded" in body and "3/3" in body
    assert 'data-final="true"' in body


def test_poll_continues_while_outputs_are_being_copied(auth_client, run):
    make_step(run, "prepare", StepPhase.SUCCEEDED, artifacts_fetched=False)
    Run.objects.filter(pk=run.pk).update(state=RunState.SUCCEEDED, finished_at=timezone.now())
    response = auth_client.get(reverse("runs:status", args=[run.pk]), headers=HX)
    assert response.status_code == 200
    assert 'hx-trigger="every 1s, ydp-push"' in response.content.decode()
    Run.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timezone.timedelta(hours=1))
    response = auth_client.get(reverse("runs:status", args=[run.pk]), headers=HX)
    assert response.status_code == 286  # not forever: the copy had its chance


def test_stale_banner(auth_client, run):
    Run.objects.filter(pk=run.pk).update(
        sync_error="Argo is unreachable at http://argo:2746",
        last_synced_at=timezone.now() - timezone.timedelta(minutes=5),
    )
    body = auth_client.get(run.get_absolute_url()).content.decode()
    assert "Status may be stale since" in body
    assert "Argo is unreachable at http://argo:2746" in body


def test_stale_when_not_synced_for_long(auth_client, run):
    Run.objects.filter(pk=run.pk).update(
        last_synced_at=timezone.now() - timezone.timedelta(minutes=2)
    )
    body = auth_client.get(run.get_absolute_url()).content.decode()
    assert "Argo has not reported on this run since then." in body


def test_run_page_query_count_is_fixed(auth_client, run, django_assert_num_queries):
    make_step(run, "prepare", StepPhase.SUCCEEDED)
    # session, user, run (+ experiment, version, pipeline), steps, tab counts, the caller's projects
    # and roles
    with django_assert_num_queries(6):
        auth_client.get(run.get_absolute_url())
    for i in range(30):
        make_step(run, f"extra-{i}", StepPhase.SUCCEEDED)
    with django_assert_num_queries(6):
        auth_client.get(run.get_absolute_url())
    with django_assert_num_queries(5):
        auth_client.get(reverse("runs:status", args=[run.pk]), headers=HX)


# -- step panel ---------------------------------------------------------------------------------


def test_panel_artifacts(auth_client, run):
    step = make_step(run, "train", StepPhase.SUCCEEDED, artifacts_fetched=True, log_fetched=True)
    add_artifact(run, step, "report", ArtifactKind.HTML, b"<h1>Report</h1>", "text/html")
    add_artifact(
        run,
        step,
        "notes",
        ArtifactKind.MARKDOWN,
        b"# Notes\n\n**bold** <script>alert(1)</script> <img src=x onerror=alert(2)>",
        "text/markdown",
    )
    add_artifact(
        run,
        step,
        "cm",
        ArtifactKind.CONFUSION_MATRIX,
        data={"labels": ["no", "yes"], "matrix": [[5, 1], [2, 7]]},
    )
    add_artifact(
        run,
        step,
        "roc",
        ArtifactKind.ROC,
        data={"points": [[0, 0, ""], [0.2, 0.8, "0.5"], [1, 1, ""]]},
    )
    add_artifact(
        run, step, "rows", ArtifactKind.TABLE, data={"header": ["a", "b"], "rows": [["1", "2"]]}
    )
    add_artifact(run, step, "model.bin", ArtifactKind.FILE, b"\x00\x01", "application/x-bin")
    Metric.objects.create(run=run, step=step, name="accuracy", value=0.91, format="PERCENTAGE")
    response = auth_client.get(
        reverse("runs:node", args=[run.pk, "train"]) + "?panel=artifacts", headers=HX
    )
    body = response.content.decode()
    assert response.status_code == 200
    iframe = re.search(r"<iframe[^>]*>", body).group(0)
    assert " sandbox " in iframe and "allow-same-origin" not in iframe
    assert "<strong>bold</strong>" in body
    assert "<script>alert(1)" not in body and "onerror" not in body
    assert (
        'data-chart="confusion_matrix"' in body and "&quot;matrix&quot;: [[5, 1], [2, 7]]" in body
    )
    assert 'data-chart="roc"' in body
    assert "<td>1</td><td>2</td>" in body
    assert "model.bin" in body and "/download/" in body
    assert "accuracy" in body and "91.00%" in body


def test_panel_waits_for_outputs_then_stops(auth_client, run):
    step = make_step(run, "train", StepPhase.SUCCEEDED, artifacts_fetched=False)
    url = reverse("runs:node", args=[run.pk, "train"]) + "?panel=artifacts&poll=1"
    response = auth_client.get(url, headers=HX)
    assert response.status_code == 200
    assert "Copying this step\u2019s outputs" in response.content.decode()
    step.artifacts_fetched = True
    step.save()
    assert auth_client.get(url, headers=HX).status_code == 286


def test_panel_config_from_the_manifest(auth_client, run):
    make_step(run, "train", StepPhase.RUNNING, inputs={"parameters": [{"name": "p", "value": "v"}]})
    body = auth_client.get(
        reverse("runs:node", args=[run.pk, "train"]) + "?panel=config", headers=HX
    ).content.decode()
    assert "python:3.11-slim" in body
    assert "python3 /tmp/ydp/steprunner.py" in body
    assert "--kind python --file train.py" in body
    assert "EPOCHS" in body and "{{workflow.parameters.epochs}}" in body
    assert "cpu 500m" in body and "memory 1Gi" in body
    assert "mlpipeline-metrics" in body and "/tmp/ydp/bundle.zip" in body


def test_panel_of_a_pending_node(auth_client, run):
    body = auth_client.get(
        reverse("runs:node", args=[run.pk, "evaluate"]) + "?panel=logs", headers=HX
    ).content.decode()
    assert "has not started yet" in body


def test_panel_unknown_node_is_404(auth_client, run):
    response = auth_client.get(reverse("runs:node", args=[run.pk, "<i>nope"]), headers=HX)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")


def test_panel_without_htmx_opens_the_run_page(auth_client, run):
    response = auth_client.get(reverse("runs:node", args=[run.pk, "train"]) + "?panel=config")
    assert response.status_code == 302
    assert response["Location"] == f"{run.get_absolute_url()}?node=train&panel=config#step-panel"
    page = auth_client.get(f"{run.get_absolute_url()}?node=train&panel=config").content.decode()
    assert "python:3.11-slim" in page  # the panel rendered in the page itself


def test_stored_log_after_the_step(auth_client, run):
    make_step(
        run,
        "train",
        StepPhase.FAILED,
        log="epoch 1\nTraceback (most recent call last):\nValueError: boom",
        log_fetched=True,
        artifacts_fetched=True,
        finished_at=timezone.now(),
    )
    body = auth_client.get(
        reverse("runs:node", args=[run.pk, "train"]) + "?panel=logs", headers=HX
    ).content.decode()
    assert "ValueError: boom" in body and "Stored copy" in body
    response = auth_client.get(reverse("runs:node_log", args=[run.pk, "train"]), headers=HX)
    assert response.status_code == 286 and "ValueError: boom" in response.content.decode()


def test_live_log_when_argo_is_unreachable(auth_client, run, settings):
    settings.ARGO_SERVER = closed_port_url()
    make_step(run, "train", StepPhase.RUNNING)
    response = auth_client.get(reverse("runs:node_log", args=[run.pk, "train"]), headers=HX)
    body = response.content.decode()
    assert response.status_code == 200  # keeps polling: Argo may come back
    assert "Could not read the live log: Argo is unreachable at" in body
    assert 'hx-trigger="every 2s"' in body


# -- artifact files -----------------------------------------------------------------------------


def test_html_artifact_is_served_sandboxed(auth_client, run):
    step = make_step(run, "train", StepPhase.SUCCEEDED)
    artifact = add_artifact(
        run, step, "report", ArtifactKind.HTML, b"<script>alert(1)</script>", "text/html"
    )
    response = auth_client.get(reverse("runs:artifact", args=[run.pk, artifact.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    csp = response["Content-Security-Policy"]
    assert csp.startswith("sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "SAMEORIGIN"


def test_binary_artifact_is_a_download(auth_client, run):
    step = make_step(run, "train", StepPhase.SUCCEEDED)
    artifact = add_artifact(run, step, "model.bin", ArtifactKind.FILE, b"\x00", "application/x")
    response = auth_client.get(reverse("runs:artifact", args=[run.pk, artifact.pk]))
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    other = make_run(run.pipeline_version, run.experiment)
    assert (
        auth_client.get(reverse("runs:artifact", args=[other.pk, artifact.pk])).status_code == 404
    )


# -- run output and details ---------------------------------------------------------------------


def test_run_output_tab(auth_client, run):
    step = make_step(run, "evaluate", StepPhase.SUCCEEDED)
    Metric.objects.create(run=run, step=step, name="accuracy", value=0.875, format="PERCENTAGE")
    Metric.objects.create(run=run, step=step, name="loss", value=0.25)
    add_artifact(
        run,
        step,
        "cm",
        ArtifactKind.CONFUSION_MATRIX,
        data={"labels": ["a", "b"], "matrix": [[1, 0], [0, 1]]},
    )
    add_artifact(run, step, "report", ArtifactKind.HTML, b"<p>x</p>", "text/html")
    response = auth_client.get(run.get_absolute_url() + "?tab=output")
    body = response.content.decode()
    assert "87.50%" in body and "0.25" in body
    assert 'data-chart="confusion_matrix"' in body
    assert (
        reverse("runs:artifact_download", args=[run.pk, Artifact.objects.get(name="report").pk])
        in body
    )


def test_details_tab(auth_client, run):
    body = auth_client.get(run.get_absolute_url() + "?tab=details").content.decode()
    assert str(run.pk) in body and run.workflow_name in body


# -- actions ------------------------------------------------------------------------------------


def test_terminate_before_submit_needs_no_argo(auth_client):
    run = make_run(make_version(), make_experiment(), state=RunState.PENDING)
    page = auth_client.get(reverse("runs:terminate", args=[run.pk]))
    assert "Terminate “" in page.content.decode()
    response = auth_client.post(reverse("runs:terminate", args=[run.pk]), follow=True)
    run.refresh_from_db()
    assert run.state == RunState.TERMINATED and run.finished_at is not None
    assert "Terminated before it reached Argo." in response.content.decode()


def test_terminate_when_argo_is_unreachable_says_so(auth_client, run, settings):
    settings.ARGO_SERVER = closed_port_url()
    response = auth_client.post(reverse("runs:terminate", args=[run.pk]), follow=True)
    assert "Could not terminate the run: Argo is unreachable at" in response.content.decode()
    run.refresh_from_db()
    assert run.state == RunState.RUNNING


def test_retry_an_unsubmitted_run_submits_again(auth_client, django_capture_on_commit_callbacks):
    run = make_run(make_version(), make_experiment(), state=RunState.ERROR, message="Argo refused")
    with django_capture_on_commit_callbacks() as callbacks:
        auth_client.post(reverse("runs:retry", args=[run.pk]))
    run.refresh_from_db()
    assert run.state == RunState.PENDING and run.finished_at is None
    assert len(callbacks) == 1


def test_retry_only_failed_runs(auth_client, run):
    response = auth_client.post(reverse("runs:retry", args=[run.pk]), follow=True)
    assert "Only a failed run can be retried" in response.content.decode()


def test_failed_run_names_the_step_instead_of_a_node_id(auth_client, run):
    step = make_step(run, "train", StepPhase.FAILED, message="Error (exit code 1)")
    Run.objects.filter(pk=run.pk).update(
        state=RunState.FAILED, finished_at=timezone.now(), message=f"child '{step.node_id}' failed"
    )
    body = auth_client.get(run.get_absolute_url()).content.decode()
    assert "Step “train” failed: Error (exit code 1)" in body
    assert f"child &#x27;{step.node_id}&#x27;" not in body


def test_log_poll_refreshes_the_panel_phase(auth_client, run):
    make_step(
        run,
        "train",
        StepPhase.FAILED,
        log="boom",
        log_fetched=True,
        exit_code=3,
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    body = auth_client.get(
        reverse("runs:node_log", args=[run.pk, "train"]), headers=HX
    ).content.decode()
    assert '<div id="step-panel-meta" hx-swap-oob="true">' in body
    assert "phase-failed" in body and "exit code 3" in body


def test_artifacts_panel_refreshes_while_the_step_runs(auth_client, run):
    make_step(run, "train", StepPhase.RUNNING)
    url = reverse("runs:node", args=[run.pk, "train"]) + "?panel=artifacts&poll=1"
    response = auth_client.get(url, headers=HX)
    assert response.status_code == 200
    assert 'hx-trigger="every 2s"' in response.content.decode()
    assert "Artifacts appear when the step ends." in response.content.decode()


def test_output_tab_query_count_is_fixed(auth_client, run, django_assert_num_queries):
    step = make_step(run, "evaluate", StepPhase.SUCCEEDED)
    for i in range(3):
        Metric.objects.create(run=run, step=step, name=f"m{i}", value=i)
        add_artifact(run, step, f"a{i}", ArtifactKind.TABLE, data={"header": ["x"], "rows": []})
    # session, user, run, steps, tab counts, metric history, metrics, artifacts, the caller's
    # projects and roles
    with django_assert_num_queries(9):
        auth_client.get(run.get_absolute_url() + "?tab=output")
    for i in range(3, 20):
        Metric.objects.create(run=run, step=step, name=f"m{i}", value=i)
        add_artifact(run, step, f"a{i}", ArtifactKind.TABLE, data={"header": ["x"], "rows": []})
    with django_assert_num_queries(9):
        auth_client.get(run.get_absolute_url() + "?tab=output")
