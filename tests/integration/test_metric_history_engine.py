"""A real step logs a metric history with log_metric: the engine runs it, the app copies its
metric-history.jsonl, stores the points and the last value, and the run page draws them."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from apps.experiments.models import Experiment
from apps.pipelines.constants import DEFAULT_RUNTIME_IMAGE
from apps.pipelines.services import create_version
from apps.runs.constants import RunState
from apps.runs.models import Metric, MetricPoint
from apps.runs.services import create_run
from apps.runs.tasks import submit_run
from tests.integration.helpers import sync_until_finished

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(400)]

SCRIPT = """\
from ydp_metrics import log_metric

for epoch in range(5):
    log_metric("loss", round(1.0 / (epoch + 1), 4), step=epoch)
with open(__import__("os").environ["YDP_METRIC_LOG"], "a") as f:
    f.write('{"name": "loss", "value": NaN}\\n')  # skipped, with a note on the step
print("trained")
"""


def pipeline_zip() -> bytes:
    node = {
        "id": "train",
        "type": "execution_node",
        "op": "execute-python-node",
        "app_data": {
            "label": "train",
            "component_parameters": {
                "filename": "train.py",
                "runtime_image": DEFAULT_RUNTIME_IMAGE,
            },
        },
        "inputs": [{"id": "inPort", "links": []}],
        "outputs": [{"id": "outPort"}],
    }
    doc = {
        "doc_type": "pipeline",
        "version": "3.0",
        "id": "doc",
        "primary_pipeline": "p",
        "pipelines": [
            {
                "id": "p",
                "nodes": [node],
                "app_data": {"version": 8, "properties": {"name": "curve"}},
                "runtime_ref": "",
            }
        ],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("curve.pipeline", json.dumps(doc))
        archive.writestr("train.py", SCRIPT)
    return buffer.getvalue()


def test_a_step_logs_five_points_and_the_run_page_draws_them(argo, admin_client):
    version = create_version(upload_name="curve.zip", data=pipeline_zip(), pipeline_name="curve")
    experiment = Experiment.objects.create(name="curves")
    run = create_run(version=version, experiment=experiment, parameters={})
    assert submit_run(str(run.id)) == "created"
    run = sync_until_finished(run)
    assert run.state == RunState.SUCCEEDED, run.message

    points = list(
        MetricPoint.objects.filter(run=run).order_by("index").values_list("name", "index", "value")
    )
    assert points == [("loss", i, round(1.0 / (i + 1), 4)) for i in range(5)]
    assert Metric.objects.get(run=run, name="loss").value == 0.2
    step = run.steps.get(node_type="Pod")
    assert "metric-history.jsonl: 1 line skipped (line 6: loss: value nan" in step.log
    assert run.artifacts.filter(name="metric-history").exists()

    body = admin_client.get(run.get_absolute_url() + "?tab=output").content.decode()
    data = json.loads(
        body.split('id="metric-history-data" type="application/json">')[1].split("</script>")[0]
    )
    assert data == [
        {"name": "loss", "count": 5, "points": [[i, round(1.0 / (i + 1), 4)] for i in range(5)]}
    ]
    assert 'data-history="0"' in body


def test_an_argo_yaml_step_declaring_a_metric_history_artifact(argo):
    """Any step (not only the step runner's) gets a history by declaring an output artifact
    named metric-history: shell appends the lines, as docs/steps.md says."""
    lines = "".join(
        f'echo \'{{"name": "rmse", "value": {v}, "step": {i}}}\' >> /tmp/h.jsonl; '
        for i, v in enumerate((0.9, 0.7, 0.6))
    )
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "shell-history-"},
        "spec": {
            "entrypoint": "fit",
            "templates": [
                {
                    "name": "fit",
                    "container": {"image": "alpine:3.19", "command": ["sh", "-c"], "args": [lines]},
                    "outputs": {
                        "artifacts": [
                            {
                                "name": "metric-history",
                                "path": "/tmp/h.jsonl",
                                "archive": {"none": {}},
                            }
                        ]
                    },
                }
            ],
        },
    }
    data = json.dumps(doc).encode()  # JSON is YAML
    version = create_version(upload_name="shell.yaml", data=data, pipeline_name="shell")
    experiment = Experiment.objects.create(name="shell curves")
    run = create_run(version=version, experiment=experiment, parameters={})
    assert submit_run(str(run.id)) == "created"
    run = sync_until_finished(run)
    assert run.state == RunState.SUCCEEDED, run.message
    points = list(run.metric_points.order_by("index").values_list("index", "value"))
    assert points == [(0, 0.9), (1, 0.7), (2, 0.6)]
    assert Metric.objects.get(run=run, name="rmse").value == 0.6
