"""Rows for the experiment and run page tests, built directly in the database."""

from __future__ import annotations

import hashlib
import socket
import uuid
from typing import Any

from apps.experiments.models import Experiment
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.runs.constants import RunState
from apps.runs.models import Run, Step

PARAMETERS = [
    {"name": "epochs", "type": "Integer", "default": 5, "description": "Training epochs"},
    {"name": "lr", "type": "Float", "default": 0.1, "description": "Learning rate"},
    {"name": "shuffle", "type": "Bool", "default": True, "description": ""},
    {"name": "label", "type": "String", "default": "target", "description": "Label column"},
]


def _container(name: str, script: str) -> dict[str, Any]:
    return {
        "name": name,
        "inputs": {"artifacts": [{"name": "bundle", "path": "/tmp/ydp/bundle.zip"}]},
        "outputs": {
            "artifacts": [
                {"name": "mlpipeline-metrics", "path": "/tmp/ydp/out/mlpipeline-metrics.json"}
            ]
        },
        "container": {
            "image": "python:3.11-slim",
            "command": ["python3", "/tmp/ydp/steprunner.py"],
            "args": ["--kind", "python", "--file", script],
            "env": [{"name": "EPOCHS", "value": "{{workflow.parameters.epochs}}"}],
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
        },
    }


def manifest(tasks: list[tuple[str, list[str]]] | None = None) -> dict[str, Any]:
    """A DAG Workflow: prepare -> train -> evaluate unless other (task, dependencies) given."""
    tasks = tasks or [("prepare", []), ("train", ["prepare"]), ("evaluate", ["train"])]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "demo-"},
        "spec": {
            "entrypoint": "main",
            "arguments": {
                "parameters": [{"name": p["name"], "value": str(p["default"])} for p in PARAMETERS]
            },
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {"name": name, "template": f"{name}-t", "dependencies": deps}
                            for name, deps in tasks
                        ]
                    },
                },
                *[_container(f"{name}-t", f"{name}.py") for name, _ in tasks],
            ],
        },
    }


def make_version(
    pipeline: str = "churn", name: str = "v1", *, parameters: list | None = None, **kwargs: Any
) -> PipelineVersion:
    pipe, _ = Pipeline.objects.get_or_create(name=pipeline)
    body = kwargs.pop("manifest", None) or manifest()
    return PipelineVersion.objects.create(
        pipeline=pipe,
        name=name,
        source_format="argo",
        source_filename="pipeline.yaml",
        manifest=body,
        parameters=PARAMETERS if parameters is None else parameters,
        node_count=len(body["spec"]["templates"]) - 1,
        content_hash=hashlib.sha256(f"{pipeline}/{name}".encode()).hexdigest(),
        **kwargs,
    )


def make_experiment(name: str = "baseline", **kwargs: Any) -> Experiment:
    return Experiment.objects.create(name=name, **kwargs)


def make_run(
    version: PipelineVersion, experiment: Experiment, *, state: str = RunState.RUNNING, **kw: Any
) -> Run:
    run_id = kw.pop("id", None) or uuid.uuid4()
    defaults: dict[str, Any] = {
        "name": f"run {run_id.hex[:6]}",
        "parameters": {"epochs": "5", "lr": "0.1", "shuffle": "true", "label": "target"},
        "workflow_name": f"run-{run_id.hex}",
        "workflow_namespace": "argo",
        "progress_total": 3,
    }
    defaults.update(kw)
    return Run.objects.create(
        id=run_id, experiment=experiment, pipeline_version=version, state=state, **defaults
    )


def make_step(run: Run, display_name: str, phase: str, **kw: Any) -> Step:
    node_type = kw.pop("node_type", "Pod")
    return Step.objects.create(
        run=run,
        node_id=kw.pop("node_id", f"{run.workflow_name}-{display_name}-{uuid.uuid4().hex[:6]}"),
        name=kw.pop("name", f"{run.workflow_name}.{display_name}"),
        display_name=display_name,
        node_type=node_type,
        phase=phase,
        pod_name=kw.pop("pod_name", f"{run.workflow_name}-{display_name}"),
        **kw,
    )


def closed_port_url() -> str:
    """An http URL on which nothing listens: a real 'connection refused'."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
