"""Shared data for the recurring-run tests: a tiny Argo pipeline (one shell step, two parameters),
an experiment, and the settings of a schedule."""

from __future__ import annotations

from typing import Any

from apps.experiments.models import Experiment
from apps.pipelines.models import PipelineVersion
from apps.pipelines.services import create_version
from apps.recurring.services import Settings

HELLO_YAML = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
spec:
  entrypoint: main
  arguments:
    parameters:
      - name: greeting
        value: hello
      - name: count
        value: "3"
  templates:
    - name: main
      container:
        image: alpine:3.20
        command: [sh, -c]
        args: ["echo {{workflow.parameters.greeting}} {{workflow.parameters.count}}"]
"""


def hello_version(pipeline_name: str = "hello", **kwargs: Any) -> PipelineVersion:
    return create_version(
        upload_name="hello.yaml",
        data=HELLO_YAML.encode(),
        pipeline_name=pipeline_name if "pipeline" not in kwargs else None,
        **kwargs,
    )


def schedule_settings(
    version: PipelineVersion, experiment: Experiment, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "name": "nightly hello",
        "experiment": experiment,
        "pipeline": version.pipeline,
        "pipeline_version": version,
        "trigger_type": "cron",
        "cron": "0 3 * * *",
        "timezone": "UTC",
        "parameters": {"greeting": "bonjour"},
    }
    values.update(overrides)
    return Settings(**values)
