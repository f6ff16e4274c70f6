"""Render a pipeline to an Argo Workflow manifest, and make a stored manifest ready for a run.

An Elyra node becomes one DAG task calling one container template, exactly as docs/steps.md says.
Names: every task is named by a DNS-safe form of its node's label, unique in the pipeline; its
template has the same name. The task name is what the run page matches an Argo node's displayName
against; each template's pod metadata carries the annotations `ydpipelines.io/node-id` and
`ydpipelines.io/node-label` so that the graph (apps.pipelines.graph) can go from a task back to its
Elyra node.

Hera builds every part (apps.pipelines.hera_workflow); it is imported there only, when a version
is rendered: importing hera.workflows costs about half a CPU-second, which every process that
loads the app (web and Celery workers, beat, manage.py commands) would pay at start otherwise.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterable
from typing import Any

import yaml

from apps.pipelines.constants import ParameterType
from apps.pipelines.parameters import argo_value, display_value
from apps.pipelines.spec import Node, PipelineSpec

VERSION_LABEL = "ydpipelines.io/pipeline-version"
NODE_ID_ANNOTATION = "ydpipelines.io/node-id"
NODE_LABEL_ANNOTATION = "ydpipelines.io/node-label"
ENTRYPOINT = "pipeline"

_MAX_TASK_NAME = 48  # leaves room in pod names (workflow name + template + hash, 63 max)


def dns_name(text: str, *, max_length: int = _MAX_TASK_NAME, fallback: str = "step") -> str:
    """Lowercase letters, digits and dashes, starting with a letter (Argo's `depends` expressions
    cannot name a task starting with a digit), at most `max_length` characters."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if not name:
        name = fallback
    if not name[0].isalpha():
        name = f"{fallback[0]}-{name}"
    return name[:max_length].rstrip("-")


def task_names(nodes: Iterable[Node]) -> dict[str, str]:
    """node id -> unique task name, in node order (so the result is deterministic)."""
    taken = {ENTRYPOINT}
    names: dict[str, str] = {}
    for node in nodes:
        base = dns_name(node.label or node.filename.rsplit("/", 1)[-1] or node.id)
        name, n = base, 1
        while name in taken:
            n += 1
            suffix = f"-{n}"
            name = base[: _MAX_TASK_NAME - len(suffix)].rstrip("-") + suffix
        taken.add(name)
        names[node.id] = name
    return names


def parameter_value(type_: str, value: Any) -> str | None:
    """A typed value as the string Argo carries (None: no value); lists and maps as JSON."""
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return argo_value(type_, value)


def render_elyra_manifest(spec: PipelineSpec, *, version_id: uuid.UUID | str) -> dict[str, Any]:
    """The canonical Workflow manifest (a dict) of an Elyra pipeline version."""
    from apps.pipelines.hera_workflow import build_workflow

    # Workflow.to_dict() with mode="json": plain JSON types, as the JSONField stores them.
    model = build_workflow(spec, version_id=version_id).build()
    return model.model_dump(exclude_none=True, by_alias=True, mode="json")


def workflow_for_run(
    manifest: dict[str, Any],
    *,
    name: str,
    namespace: str,
    parameters: dict[str, Any],
    labels: dict[str, str],
) -> dict[str, Any]:
    """A copy of a version's manifest made ready to submit as one run: metadata.name set,
    argument values from `parameters`, labels added. A WorkflowTemplate becomes a Workflow.

    Raises ValueError naming any parameter the manifest does not declare."""
    workflow = copy.deepcopy(manifest)
    if workflow.get("kind") not in (None, "Workflow", "WorkflowTemplate"):
        raise ValueError(f"cannot run a {workflow.get('kind')}: expected a Workflow")
    workflow["apiVersion"] = "argoproj.io/v1alpha1"
    workflow["kind"] = "Workflow"
    metadata = workflow.setdefault("metadata", {})
    metadata.pop("generateName", None)
    for server_field in ("uid", "resourceVersion", "creationTimestamp", "generation"):
        metadata.pop(server_field, None)
    workflow.pop("status", None)
    metadata["name"] = name
    metadata["namespace"] = namespace
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}

    spec = workflow.setdefault("spec", {})
    declared = (spec.get("arguments") or {}).get("parameters") or []
    known = {p.get("name") for p in declared}
    unknown = sorted(set(parameters) - known)
    if unknown:
        names = ", ".join(unknown)
        raise ValueError(
            f"unknown parameter{'s' if len(unknown) > 1 else ''}: {names} "
            f"(the pipeline declares: {', '.join(sorted(known)) or 'none'})"
        )
    for param in declared:
        if param.get("name") not in parameters:
            continue
        value = parameters[param["name"]]
        enum = param.get("enum") or []
        if enum == ["true", "false"]:  # a Bool: its words read as everywhere else
            text = display_value(ParameterType.BOOL, value)
        elif isinstance(value, str):
            text = value
        else:
            text = parameter_value("", value) or ""
        if enum and text not in enum:
            raise ValueError(
                f"parameter {param['name']}: {text!r} is not one of {', '.join(map(str, enum))}"
            )
        param["value"] = text
        param.pop("valueFrom", None)
    return workflow


# What a real cluster accepts (the full CRDs' maxItems; etcd's object size, with room for status).
ARGO_MAX_TEMPLATES = 200
ARGO_MAX_DAG_TASKS = 200
ARGO_MAX_MANIFEST_BYTES = 1024 * 1024


def argo_limit_problems(manifest: dict[str, Any]) -> list[str]:
    """Why a real Argo cluster would refuse this manifest although the embedded engine runs it:
    more templates or DAG tasks than Argo's CRDs allow, or an object too big for etcd."""
    spec = manifest.get("spec") or {}
    if manifest.get("kind") == "CronWorkflow":
        spec = spec.get("workflowSpec") or {}
    problems = []
    templates = spec.get("templates") or []
    if len(templates) > ARGO_MAX_TEMPLATES:
        problems.append(
            f"{len(templates)} templates: Argo's CRD allows at most {ARGO_MAX_TEMPLATES} "
            "(one template per node), so a cluster with the full CRDs installed refuses it"
        )
    for template in templates:
        tasks = (template.get("dag") or {}).get("tasks") or []
        if len(tasks) > ARGO_MAX_DAG_TASKS:
            problems.append(
                f"template {template.get('name')}: {len(tasks)} DAG tasks, more than the "
                f"{ARGO_MAX_DAG_TASKS} Argo's CRD allows"
            )
    size = len(json.dumps(manifest, separators=(",", ":")))
    if size > ARGO_MAX_MANIFEST_BYTES:
        problems.append(
            f"the manifest is {size / 2**20:.1f} MiB: Kubernetes stores a workflow as one object "
            "of at most about 1.5 MiB with its status, so a cluster may refuse it"
        )
    return problems


_TOP_KEYS = ("apiVersion", "kind", "metadata", "spec", "status")


def _readable(value: Any, top: bool = False) -> Any:
    """Keys in a stable, readable order: Kubernetes' top-level order, `name` first, then
    alphabetical (PostgreSQL's jsonb does not keep the order the manifest was written in)."""
    if isinstance(value, dict):
        first = _TOP_KEYS if top else ("name",)
        keys = [k for k in first if k in value] + sorted(k for k in value if k not in first)
        return {k: _readable(value[k]) for k in keys}
    if isinstance(value, list):
        return [_readable(v) for v in value]
    return value


def manifest_yaml(manifest: dict[str, Any]) -> str:
    """The manifest as YAML for people (the version page, `manage.py render_pipeline`)."""
    return yaml.safe_dump(
        _readable(manifest, top=True), sort_keys=False, allow_unicode=True, width=100
    )
