"""A step's outputs are stored whatever one of them is called; a copy that fails for good is
recorded on the step and not queued again by the reconciler."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from django.utils import timezone

from apps.experiments.models import Experiment
from apps.orchestration.argo import ArgoError
from apps.pipelines.services import create_version
from apps.runs.constants import ArtifactKind, RunState, StepPhase
from apps.runs.outputs import storage_filename
from apps.runs.services import create_run
from apps.runs.tasks import fetch_missing_outputs, fetch_outputs, submit_run
from tests.experiments.builders import make_experiment, make_run, make_step, make_version
from tests.integration.helpers import sync_until_finished

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

HOSTILE = "../../../../escape-attempt"
UI_METADATA = {
    "outputs": [
        {"type": "markdown", "storage": "inline", "source": "# pwned", "name": HOSTILE},
        {"type": "markdown", "storage": "inline", "source": "# Summary"},
        {"type": "markdown", "storage": "inline", "source": "more", "name": "notes and more"},
        {"type": "web-app", "storage": "inline", "source": "<p>report</p>"},
        {"type": "table", "storage": "inline", "format": "csv", "source": "a,b\n1,2\n"},
        {"type": "table", "storage": "inline", "format": "csv", "source": "c\n3\n"},
        {"type": "roc", "storage": "inline", "format": "csv", "source": "0,0,1\n1,1,0\n"},
        {
            "type": "confusion_matrix",
            "storage": "inline",
            "format": "csv",
            "labels": ["x", "y"],
            "source": "x,x,3\ny,y,4\n",
        },
    ]
}
METRICS = {"metrics": [{"name": "accuracy", "numberValue": 0.9}]}


def _workflow() -> bytes:
    write = (
        f"printf '%s' '{json.dumps(UI_METADATA)}' > /tmp/ui.json && "
        f"printf '%s' '{json.dumps(METRICS)}' > /tmp/metrics.json && echo wrote outputs"
    )
    return yaml.safe_dump(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"generateName": "hostile-"},
            "spec": {
                "entrypoint": "main",
                "templates": [
                    {"name": "main", "dag": {"tasks": [{"name": "report", "template": "report"}]}},
                    {
                        "name": "report",
                        "container": {
                            "image": "alpine:3.23",
                            "command": ["sh", "-c"],
                            "args": [write],
                        },
                        "outputs": {
                            "artifacts": [
                                {"name": "mlpipeline-ui-metadata", "path": "/tmp/ui.json"},
                                {"name": "mlpipeline-metrics", "path": "/tmp/metrics.json"},
                            ]
                        },
                    },
                ],
            },
        }
    ).encode()


def test_storage_filename_keeps_names_inside_the_folder():
    assert storage_filename(HOSTILE, ".md") == "escape-attempt.md"
    assert storage_filename("report 1/2", ".html") == "report-1-2.html"
    assert storage_filename("..", ".json") == "output.json"
    assert storage_filename("model.pkl") == "model.pkl"


def test_a_hostile_visualization_name_costs_nothing_else(argo, settings, media_root):
    settings.YDP_SUBMIT_STALE_SECONDS = 0
    version = create_version(upload_name="hostile.yaml", data=_workflow(), pipeline_name="hostile")
    run = create_run(version=version, experiment=Experiment.objects.create(name="hostile"))
    assert submit_run(str(run.id)) == "created"

    run = sync_until_finished(run)
    assert run.state == RunState.SUCCEEDED, run.message
    step = run.steps.get(display_name="report")
    assert step.phase == StepPhase.SUCCEEDED
    assert step.log_fetched and step.artifacts_fetched and not step.outputs_error
    assert "wrote outputs" in step.log
    # The eight visualizations and the metrics file are in; the odd name is kept for display.
    artifacts = {a.name: a for a in run.artifacts.all()}
    assert len(artifacts) == 9, sorted(artifacts)
    hostile = artifacts[HOSTILE]
    assert hostile.kind == ArtifactKind.MARKDOWN
    assert hostile.file.name.startswith(f"artifacts/{run.id}/{step.node_id}/")
    stored = Path(hostile.file.path).resolve()
    assert stored.is_relative_to(Path(media_root).resolve() / "artifacts" / str(run.id))
    assert stored.read_bytes() == b"# pwned"
    assert not list(Path(media_root).resolve().parent.glob("escape-attempt*"))
    kinds = {a.kind for a in artifacts.values()}
    assert {ArtifactKind.TABLE, ArtifactKind.ROC, ArtifactKind.CONFUSION_MATRIX} <= kinds
    assert {ArtifactKind.HTML, ArtifactKind.MARKDOWN, ArtifactKind.METRICS} <= kinds
    assert run.metrics.get(name="accuracy").value == 0.9
    # The note says where the odd name went, in the stored log the step panel shows.
    assert f"[ydpipelines] output {HOSTILE!r} is stored as 'escape-attempt.md'" in step.log

    # Nothing is left for the reconciler.
    assert fetch_missing_outputs() == 0


class RefusingArgo(BaseHTTPRequestHandler):
    """An Argo Server that refuses every read with 400: a permanent fault the engine cannot make
    on demand."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = json.dumps({"code": 3, "message": "request refused"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def refusing_argo(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), RefusingArgo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.ARGO_SERVER = f"http://127.0.0.1:{server.server_address[1]}"
    settings.ARGO_TIMEOUT_SECONDS = 2
    yield
    server.shutdown()
    server.server_close()


def test_a_copy_that_fails_for_good_is_recorded_and_not_queued_again(
    refusing_argo, settings, auth_client
):
    settings.YDP_SUBMIT_STALE_SECONDS = 0
    now = timezone.now()
    run = make_run(make_version(), make_experiment(), state=RunState.FAILED, finished_at=now)
    step = make_step(
        run, "prepare", StepPhase.FAILED, started_at=now, finished_at=now - timedelta(seconds=5)
    )
    assert fetch_missing_outputs() == 1

    with pytest.raises(ArgoError):
        fetch_outputs.run(step.pk)
    step.refresh_from_db()
    assert not step.log_fetched
    assert "request refused" in step.outputs_error
    assert fetch_missing_outputs() == 0

    response = auth_client.get(
        f"/runs/{run.pk}/nodes/prepare/?panel=artifacts", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "request refused" in response.content.decode()
