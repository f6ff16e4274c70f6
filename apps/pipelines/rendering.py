"""Render a pipeline to an Argo Workflow manifest through Hera.  (CONTRACT STUB: the rendering
helper replaces the bodies; keep the signatures.)"""

from __future__ import annotations

import uuid
from typing import Any

from apps.pipelines.spec import PipelineSpec


def render_elyra_manifest(spec: PipelineSpec, *, version_id: uuid.UUID | str) -> dict[str, Any]:
    """The canonical Workflow manifest (a dict) of an Elyra pipeline version."""
    raise NotImplementedError


def workflow_for_run(
    manifest: dict[str, Any],
    *,
    name: str,
    namespace: str,
    parameters: dict[str, Any],
    labels: dict[str, str],
) -> dict[str, Any]:
    """A copy of a version's manifest made ready to submit as one run: metadata.name set,
    argument values from `parameters`, labels added. A WorkflowTemplate becomes a Workflow."""
    raise NotImplementedError
