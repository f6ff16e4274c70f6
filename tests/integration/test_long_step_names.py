"""Step logs reach the run page whatever the length of a template's name (issue 9): the app
asks the engine for the pod name the engine gave the step."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from apps.experiments.models import Experiment
from apps.pipelines.services import create_version
from apps.runs.constants import RunState
from apps.runs.services import create_run
from apps.runs.tasks import submit_run
from tests.integration.helpers import ROOT, sync_until_finished, zip_folder

# Pod names and logs are the engine's and the app's code, not the database's: PostgreSQL only.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.any_database,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(400),
]

LONG = [
    "feature-engineering",  # 19: the name that lost its log
    "load-the-raw-customer-table",  # 27
    "train-a-gradient-boosted-model-v2",  # 33
    "write-the-evaluation-report-to-storage-x",  # 40
]


def _argo_yaml() -> bytes:
    templates = [
        {
            "name": name,
            "container": {
                "image": "alpine:3.19",
                "command": ["sh", "-c"],
                "args": [f"echo log-of-{name}"],
            },
        }
        for name in LONG
    ]
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": f"t{i}", "template": name, **({"depends": f"t{i - 1}"} if i else {})}
                for i, name in enumerate(LONG)
            ]
        },
    }
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "long-names-"},
        "spec": {"entrypoint": "main", "templates": [dag, *templates]},
    }
    return json.dumps(doc).encode()  # JSON is YAML


def _run(upload_name: str, data: bytes, name: str):
    version = create_version(upload_name=upload_name, data=data, pipeline_name=name)
    experiment = Experiment.objects.create(name=f"{name} experiment")
    run = create_run(version=version, experiment=experiment, parameters={})
    assert submit_run(str(run.id)) == "created"
    return sync_until_finished(run)


def test_argo_templates_with_long_names_keep_their_logs(argo):
    run = _run("long-names.yaml", _argo_yaml(), "long template names")
    assert run.state == RunState.SUCCEEDED, run.message
    steps = {step.template_name: step for step in run.steps.filter(node_type="Pod")}
    assert set(steps) == set(LONG)
    for name, step in steps.items():
        assert len(f"{run.workflow_name}-{name}") > 52  # past the engine's old 52-char cut
        assert step.log_fetched, name
        assert f"log-of-{name}" in step.log, (name, step.log)


def test_elyra_nodes_with_long_labels_show_each_log(argo, tmp_path):
    folder = tmp_path / "demo"
    shutil.copytree(ROOT / "examples" / "demo", folder)
    pipeline = folder / "customer-churn.pipeline"
    doc = json.loads(pipeline.read_text())
    labels = {
        "Prepare data": "Prepare the raw customer data",  # 29
        "Profile data": "Profile every column of the data set",  # 36
        "Train model": "Train the churn classifier model",  # 32
        "Evaluate model": "Evaluate the model on held out rows x",  # 37
    }
    for i, node in enumerate(doc["pipelines"][0]["nodes"]):
        app = node.get("app_data") or {}
        old = app.get("label")
        if old in labels:
            app["label"] = labels[old]
            (app.get("ui_data") or {})["label"] = labels[old]
        # The demo's graph and labels, but each node a one-line script: what is checked is the
        # names and logs, not the notebooks (papermill and a kernel: ~2.5 CPU-s a node).
        script = f"node_{i}.py"
        (folder / script).write_text(f"print('node {i} ran')\n")
        node["op"] = "execute-python-node"
        params = app["component_parameters"]
        params.update(filename=script, dependencies=[], outputs=[])
    pipeline.write_text(json.dumps(doc))
    run = _run("long-labels.zip", zip_folder(folder), "long node labels")
    assert run.state == RunState.SUCCEEDED, run.message
    steps = list(run.steps.filter(node_type="Pod"))
    assert len(steps) == 4
    for step in steps:
        assert len(step.display_name) >= 20, step.display_name
        assert step.log_fetched and "[ydp]" in step.log, (step.display_name, step.log[:200])
        assert re.search(r"^node \d ran$", step.log, re.M), step.log[-200:]  # its own output
