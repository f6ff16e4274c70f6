"""Argo Workflow / WorkflowTemplate / CronWorkflow YAML (or JSON) to a version.

The validated, v4-migrated document is the canonical manifest (apps.pipelines.validation). A
CronWorkflow becomes the Workflow it starts; its schedule settings are kept in the version's
spec metadata (`spec["metadata"]["cron"]`), so a recurring run can be made from them. The spec
holds the shape of the entrypoint's graph only (DAG tasks or steps), for pages that list nodes.
"""

from __future__ import annotations

import posixpath
from typing import Any

from apps.pipelines.constants import TEMPLATE_KINDS, SourceFormat
from apps.pipelines.importers import ImportResult, PipelineImportError
from apps.pipelines.spec import Node, Parameter, PipelineSpec
from apps.pipelines.validation import load_documents, validate_manifest
from ydpipelines.localargo.expressions import task_dependencies


def import_yaml(upload_name: str, data: bytes) -> ImportResult:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PipelineImportError(f"{upload_name} is not UTF-8 text (byte {exc.start}).") from exc
    docs = load_documents(upload_name, text)
    if not docs:
        raise PipelineImportError(f"{upload_name} is empty: no Argo manifest in it.")
    if len(docs) > 1:
        kinds = ", ".join(
            str(d.data.get("kind")) if isinstance(d.data, dict) else "?" for d in docs
        )
        raise PipelineImportError(
            f"{upload_name} holds {len(docs)} documents ({kinds}); upload one Workflow, "
            "WorkflowTemplate or CronWorkflow per file."
        )
    checked = validate_manifest(upload_name, docs[0])
    manifest = checked.manifest
    parameters = workflow_parameters(manifest)
    spec = graph_spec(manifest, fallback_name=_stem(upload_name))
    spec.parameters = [Parameter(**p) for p in parameters]
    extra: dict[str, Any] = {"kind": checked.kind}
    if checked.cron is not None:
        extra["cron"] = checked.cron
    return ImportResult(
        source_format=SourceFormat.ARGO,
        source_filename=upload_name,
        spec=spec,
        files={posixpath.basename(upload_name): data},
        manifest=manifest,
        parameters=parameters,
        notes=list(checked.notes),
        extra=extra,
    )


def workflow_parameters(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """spec.arguments.parameters as version parameters. Argo parameters are strings; one with
    neither value nor valueFrom must be given at submit time (required)."""
    params = []
    args = (manifest.get("spec") or {}).get("arguments") or {}
    for item in args.get("parameters") or []:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        value = item.get("value")
        has_source = "valueFrom" in item
        description = item.get("description") or ""
        if item.get("enum"):
            choices = ", ".join(str(v) for v in item["enum"])
            description = f"{description} (one of: {choices})".strip()
        params.append(
            {
                "name": str(item["name"]),
                "type": "String",
                "default": None if value is None else str(value),
                "description": str(description),
                "required": value is None and not has_source,
            }
        )
    return params


def graph_spec(manifest: dict[str, Any], *, fallback_name: str) -> PipelineSpec:
    meta = manifest.get("metadata") or {}
    name = str(meta.get("name") or str(meta.get("generateName") or "").rstrip("-") or fallback_name)
    annotations = meta.get("annotations") or {}
    description = str(annotations.get("workflows.argoproj.io/description") or "")
    spec = manifest.get("spec") or {}
    templates = {t.get("name"): t for t in spec.get("templates") or [] if isinstance(t, dict)}
    entry = templates.get(spec.get("entrypoint"))
    nodes: list[Node] = []
    if entry is None:
        return PipelineSpec(name=name, description=description, nodes=nodes)
    if isinstance(entry.get("dag"), dict):
        for task in entry["dag"].get("tasks") or []:
            if isinstance(task, dict) and task.get("name"):
                nodes.append(_node(task["name"], task, templates, task_dependencies(task)))
    elif isinstance(entry.get("steps"), list):
        previous: list[str] = []
        for group in entry["steps"]:
            current = []
            for step in group if isinstance(group, list) else []:
                if isinstance(step, dict) and step.get("name"):
                    nodes.append(_node(step["name"], step, templates, list(previous)))
                    current.append(step["name"])
            previous = current or previous
    else:
        nodes.append(_node(entry["name"], {"template": entry["name"]}, templates, []))
    return PipelineSpec(name=name, description=description, nodes=nodes)


def _node(name: str, ref: dict[str, Any], templates: dict[str, Any], deps: list[str]) -> Node:
    template = templates.get(ref.get("template")) or ref.get("inline") or {}
    kind = "templateRef" if ref.get("templateRef") else "container"
    for candidate in TEMPLATE_KINDS:
        if candidate in template:
            kind = candidate
            break
    body = template.get("container") or template.get("script") or {}
    return Node(
        id=str(name),
        label=str(name),
        kind=kind,
        filename="",
        runtime_image=str(body.get("image") or ""),
        depends_on=deps,
    )


def _stem(upload_name: str) -> str:
    return posixpath.basename(upload_name).rsplit(".", 1)[0] or "workflow"
