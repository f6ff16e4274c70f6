"""The editor's document: a pipeline as the browser edits it, and its Elyra v8 `.pipeline` file.

The document keeps what the user typed (a memory of "abc" stays "abc") so that a draft can be
saved at any moment; the importer (apps.pipelines.importers.elyra) judges the values when the
draft is checked or saved as a version, with the same messages an upload gets.

Shape (every key optional on input, always present on output):
    {"name", "description",
     "defaults": {"runtime_image", "env": [{"name", "value"}]},  # pipeline-wide, nodes override
     "parameters": [{"name", "type", "default", "description", "required"}],
     "nodes": [{"id", "label", "filename", "x", "y", "depends_on": [node ids],
                "runtime_image", "cpu", "cpu_limit", "memory", "memory_limit", "gpu",
                "gpu_limit", "gpu_vendor", "env": [{"name", "value"}], "dependencies": [globs],
                "include_subdirectories", "outputs": [paths], "parameters": [names],
                "secrets": [{"env_var", "name", "key"}],
                "volumes": [{"path", "pvc_name", "sub_path", "read_only"}],
                "tolerations": [{"key", "operator", "value", "effect"}],
                "pod_labels": [{"key", "value"}], "pod_annotations": [{"key", "value"}],
                "shm_size", "retries", "timeout_seconds"}]}
"""

from __future__ import annotations

import json
import math
import re
import uuid
from typing import Any

from apps.pipelines.importers.elyra import KIND_SUFFIXES, LATEST_VERSION

MAX_NODES = 2000
MAX_TEXT = 10_000
NUMBER_FIELDS = (
    "cpu",
    "cpu_limit",
    "memory",
    "memory_limit",
    "gpu",
    "gpu_limit",
    "retries",
    "timeout_seconds",
)
TEXT_FIELDS = ("id", "label", "filename", "runtime_image", "gpu_vendor", "shm_size")
LIST_FIELDS = ("dependencies", "outputs", "parameters", "depends_on")
RECORD_FIELDS = {
    "env": ("name", "value"),
    "secrets": ("env_var", "name", "key"),
    "volumes": ("path", "pvc_name", "sub_path", "read_only"),
    "tolerations": ("key", "operator", "value", "effect"),
    "pod_labels": ("key", "value"),
    "pod_annotations": ("key", "value"),
}
OPS = {"notebook": "execute-notebook-node", "python": "execute-python-node", "r": "execute-r-node"}
_LINK_NAMESPACE = uuid.UUID("7b1c1f5e-3f0a-4d5e-9a35-3c1d2f6f0e11")
_SHM_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*$")


class DocumentError(ValueError):
    """A document the editor could not have sent (wrong shape): the message says where."""


def empty_document(name: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "description": "",
        "defaults": {"runtime_image": "", "env": []},
        "parameters": [],
        "nodes": [],
    }


def node_kind(filename: str) -> str | None:
    """notebook | python | r from the file's suffix, as the importer decides it."""
    lower = filename.lower()
    for kind, suffixes in KIND_SUFFIXES.items():
        if lower.endswith(suffixes):
            return kind
    return None


# -- cleaning what the browser sent ------------------------------------------------------------


def clean_document(raw: Any) -> dict[str, Any]:
    """The document in its full shape. Raises DocumentError for a wrong shape (not for bad
    values: those are the importer's to name)."""
    if not isinstance(raw, dict):
        raise DocumentError("The pipeline document must be a JSON object.")
    nodes = raw.get("nodes") or []
    if not isinstance(nodes, list):
        raise DocumentError("'nodes' must be a list.")
    if len(nodes) > MAX_NODES:
        raise DocumentError(f"A pipeline may have at most {MAX_NODES} nodes.")
    params = raw.get("parameters") or []
    if not isinstance(params, list):
        raise DocumentError("'parameters' must be a list.")
    doc = {
        "name": _text(raw.get("name"), "name"),
        "description": _text(raw.get("description"), "description"),
        "defaults": _clean_defaults(raw.get("defaults")),
        "parameters": [_clean_parameter(p, i) for i, p in enumerate(params)],
        "nodes": [_clean_node(n, i) for i, n in enumerate(nodes)],
    }
    ids = [n["id"] for n in doc["nodes"]]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        raise DocumentError(f"Node id {duplicate!r} is used twice.")
    return doc


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise DocumentError(f"{where} must be text.")
    text = str(value)
    if len(text) > MAX_TEXT:
        raise DocumentError(f"{where} is longer than {MAX_TEXT} characters.")
    return text


def _clean_defaults(raw: Any) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise DocumentError("'defaults' must be an object.")
    env = raw.get("env") or []
    if not isinstance(env, list) or not all(isinstance(item, dict) for item in env):
        raise DocumentError("defaults.env must be a list of objects.")
    return {
        "runtime_image": _text(raw.get("runtime_image"), "defaults.runtime_image").strip(),
        "env": [
            {
                "name": _text(item.get("name"), "defaults.env.name"),
                "value": _text(item.get("value"), "defaults.env.value"),
            }
            for item in env
        ],
    }


def _clean_parameter(raw: Any, index: int) -> dict[str, Any]:
    where = f"parameters[{index}]"
    if not isinstance(raw, dict):
        raise DocumentError(f"{where} must be an object.")
    default = raw.get("default")
    if not isinstance(default, (bool, int, float)) or default is None:
        default = _text(default, f"{where}.default")
    return {
        "name": _text(raw.get("name"), f"{where}.name"),
        "type": _text(raw.get("type"), f"{where}.type") or "String",
        "default": default,
        "description": _text(raw.get("description"), f"{where}.description"),
        "required": bool(raw.get("required")),
    }


def _clean_node(raw: Any, index: int) -> dict[str, Any]:
    where = f"nodes[{index}]"
    if not isinstance(raw, dict):
        raise DocumentError(f"{where} must be an object.")
    node: dict[str, Any] = {}
    for key in TEXT_FIELDS:
        node[key] = _text(raw.get(key), f"{where}.{key}").strip()
    if not node["id"]:
        raise DocumentError(f"{where} has no id.")
    for key in ("x", "y"):
        value = raw.get(key)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        node[key] = round(float(value), 1) if ok and math.isfinite(value) else None
    for key in NUMBER_FIELDS:
        value = raw.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            node[key] = value
        else:
            node[key] = _text(value, f"{where}.{key}").strip()
    for key in LIST_FIELDS:
        items = raw.get(key) or []
        if not isinstance(items, list):
            raise DocumentError(f"{where}.{key} must be a list.")
        node[key] = [_text(item, f"{where}.{key}") for item in items]
    for key, fields in RECORD_FIELDS.items():
        items = raw.get(key) or []
        if not isinstance(items, list):
            raise DocumentError(f"{where}.{key} must be a list.")
        records = []
        for item in items:
            if not isinstance(item, dict):
                raise DocumentError(f"{where}.{key} must be a list of objects.")
            records.append(
                {
                    f: bool(item.get(f))
                    if f == "read_only"
                    else _text(item.get(f), f"{where}.{key}.{f}")
                    for f in fields
                }
            )
        node[key] = records
    node["include_subdirectories"] = bool(raw.get("include_subdirectories"))
    return node


# -- the properties forms' edits (apps.editor.forms) --------------------------------------------

# What a node's properties form sets; the rest (id, position, links) belongs to the canvas.
NODE_PROPERTIES = (
    tuple(k for k in TEXT_FIELDS if k != "id")
    + NUMBER_FIELDS
    + tuple(k for k in LIST_FIELDS if k != "depends_on")
    + tuple(RECORD_FIELDS)
    + ("include_subdirectories",)
)
PIPELINE_PROPERTIES = ("name", "description", "defaults", "parameters")


def find_node(doc: dict[str, Any], node_id: str) -> dict[str, Any] | None:
    return next((n for n in doc["nodes"] if n["id"] == node_id), None)


def with_node_properties(
    doc: dict[str, Any], node_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    """The document with a node's properties replaced by a form's values (cleaned again)."""
    nodes = [
        {**n, **{k: v for k, v in values.items() if k in NODE_PROPERTIES}}
        if n["id"] == node_id
        else n
        for n in doc["nodes"]
    ]
    return clean_document({**doc, "nodes": nodes})


def with_pipeline_properties(doc: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The document with the pipeline's properties replaced by a form's values (cleaned again)."""
    return clean_document({**doc, **{k: v for k, v in values.items() if k in PIPELINE_PROPERTIES}})


# -- from a version's spec ---------------------------------------------------------------------


def from_spec(
    spec: dict[str, Any],
    positions: dict[str, tuple[float, float]],
    defaults: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A document from a PipelineVersion's spec (apps.pipelines.spec.PipelineSpec.to_dict()),
    with the node positions and pipeline defaults of its .pipeline file where it had them (the
    spec's nodes already carry the defaults' values, so keeping them changes no spec)."""
    nodes = []
    for raw in spec.get("nodes", []):
        x, y = positions.get(raw["id"], (None, None))
        nodes.append(
            {
                "id": raw["id"],
                "label": raw.get("label", ""),
                "filename": raw.get("filename", ""),
                "x": x,
                "y": y,
                "depends_on": list(raw.get("depends_on", [])),
                "runtime_image": raw.get("runtime_image", ""),
                "cpu": _or_blank(raw.get("cpu")),
                "cpu_limit": _or_blank(raw.get("cpu_limit")),
                "memory": _or_blank(raw.get("memory_gb")),
                "memory_limit": _or_blank(raw.get("memory_limit_gb")),
                "gpu": _or_blank(raw.get("gpu")),
                "gpu_limit": _or_blank(raw.get("gpu_limit")),
                "gpu_vendor": raw.get("gpu_vendor", ""),
                "env": [{"name": k, "value": v} for k, v in raw.get("env", {}).items()],
                "dependencies": list(raw.get("dependencies", [])),
                "include_subdirectories": bool(raw.get("include_subdirectories")),
                "outputs": list(raw.get("outputs", [])),
                "parameters": list(raw.get("parameters", [])),
                "secrets": [dict(s) for s in raw.get("secrets", [])],
                "volumes": [dict(v) for v in raw.get("volumes", [])],
                "tolerations": [
                    {f: t.get(f, "") for f in RECORD_FIELDS["tolerations"]}
                    for t in raw.get("tolerations", [])
                ],
                "pod_labels": [
                    {"key": k, "value": v} for k, v in raw.get("pod_labels", {}).items()
                ],
                "pod_annotations": [
                    {"key": k, "value": v} for k, v in raw.get("pod_annotations", {}).items()
                ],
                "shm_size": raw.get("shm_size", ""),
                "retries": _or_blank(raw.get("retries")),
                "timeout_seconds": _or_blank(raw.get("timeout_seconds")),
            }
        )
    return clean_document(
        {
            "name": spec.get("name", ""),
            "description": spec.get("description", ""),
            "defaults": defaults or {},
            "parameters": [
                {**p, "default": "" if p.get("default") is None else p["default"]}
                for p in spec.get("parameters", [])
            ],
            "nodes": nodes,
        }
    )


def positions_of(pipeline_file: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Node id -> (x, y) from a pipeline-flow document's ui_data (every pipeline in it)."""
    found: dict[str, tuple[float, float]] = {}
    for pipeline in pipeline_file.get("pipelines") or []:
        for node in (pipeline or {}).get("nodes") or []:
            ui = ((node or {}).get("app_data") or {}).get("ui_data") or {}
            x, y = ui.get("x_pos"), ui.get("y_pos")
            if isinstance(x, (int, float)) and isinstance(y, (int, float)) and node.get("id"):
                found[str(node["id"])] = (float(x), float(y))
    return found


def defaults_of(pipeline_file: dict[str, Any]) -> dict[str, Any]:
    """The default runtime image and env vars of a pipeline-flow document's primary pipeline
    (v8 objects or the "KEY=VALUE" strings of older formats)."""
    pipelines = pipeline_file.get("pipelines") or [{}]
    app_data = (pipelines[0] or {}).get("app_data") or {}
    raw = ((app_data.get("properties") or {}).get("pipeline_defaults")) or {}
    if not isinstance(raw, dict):
        return {}
    image = raw.get("runtime_image")
    env = []
    for item in raw.get("env_vars") or []:
        if isinstance(item, dict) and item.get("env_var"):
            env.append({"name": str(item["env_var"]), "value": str(item.get("value") or "")})
        elif isinstance(item, str) and "=" in item:
            key, _, value = item.partition("=")
            env.append({"name": key.strip(), "value": value.strip()})
    return {"runtime_image": image if isinstance(image, str) else "", "env": env}


def _or_blank(value: Any) -> Any:
    return "" if value is None else value


# -- to an Elyra v8 .pipeline file ---------------------------------------------------------------


def pipeline_filename(doc: dict[str, Any]) -> str:
    """The .pipeline file's name in the version's zip: the pipeline's name, made file-safe."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", doc.get("name", "")).strip("-.")
    return f"{stem or 'pipeline'}.pipeline"


def to_elyra(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as an Elyra format-version-8 pipeline-flow v3 document; node filenames are
    relative to the .pipeline file, which sits at the root of the draft's files."""
    nodes = [_elyra_node(node) for node in doc["nodes"]]
    pipeline_defaults: dict[str, Any] = {
        "env_vars": [{"env_var": e["name"], "value": e["value"]} for e in doc["defaults"]["env"]]
    }
    if doc["defaults"]["runtime_image"]:
        pipeline_defaults["runtime_image"] = doc["defaults"]["runtime_image"]
    properties: dict[str, Any] = {
        "name": doc["name"],
        "runtime": "Kubeflow Pipelines",
        "pipeline_defaults": pipeline_defaults,
    }
    if doc["description"]:
        properties["description"] = doc["description"]
    if doc["parameters"]:
        properties["pipeline_parameters"] = [_elyra_parameter(p) for p in doc["parameters"]]
    return {
        "doc_type": "pipeline",
        "version": "3.0",
        "json_schema": "http://api.dataplatform.ibm.com/schemas/common-pipeline/pipeline-flow/"
        "pipeline-flow-v3-schema.json",
        "id": "elyra-auto-generated-pipeline",
        "primary_pipeline": "primary",
        "pipelines": [
            {
                "id": "primary",
                "nodes": nodes,
                "app_data": {
                    "ui_data": {"comments": []},
                    "version": LATEST_VERSION,
                    "runtime_type": "KUBEFLOW_PIPELINES",
                    "properties": properties,
                },
                "runtime_ref": "",
            }
        ],
        "schemas": [],
    }


def to_elyra_bytes(doc: dict[str, Any]) -> bytes:
    return (json.dumps(to_elyra(doc), indent=2, ensure_ascii=False) + "\n").encode()


def _elyra_parameter(param: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": param["name"],
        "description": param["description"],
        "default_value": {"type": param["type"], "value": param["default"]},
        "required": param["required"],
    }


def _elyra_node(node: dict[str, Any]) -> dict[str, Any]:
    kind = node_kind(node["filename"]) or "notebook"
    params: dict[str, Any] = {
        "filename": node["filename"],
        "runtime_image": node["runtime_image"],
        "dependencies": list(node["dependencies"]),
        "include_subdirectories": node["include_subdirectories"],
        "outputs": list(node["outputs"]),
        "pipeline_parameters": list(node["parameters"]),
        "env_vars": [{"env_var": e["name"], "value": e["value"]} for e in node["env"]],
        "kubernetes_secrets": [dict(s) for s in node["secrets"]],
        "mounted_volumes": [dict(v) for v in node["volumes"]],
        "kubernetes_tolerations": [dict(t) for t in node["tolerations"]],
        "kubernetes_pod_labels": [dict(kv) for kv in node["pod_labels"]],
        "kubernetes_pod_annotations": [dict(kv) for kv in node["pod_annotations"]],
        "kubernetes_shared_mem_size": _shm(node["shm_size"]),
    }
    if node["gpu_vendor"]:
        params["gpu_vendor"] = node["gpu_vendor"]
    for key in NUMBER_FIELDS:
        value = _number(node[key])
        if value != "":
            params[key] = value
    ui: dict[str, Any] = {"label": node["label"], "description": f"Run {kind} file"}
    if node["x"] is not None and node["y"] is not None:
        ui["x_pos"], ui["y_pos"] = node["x"], node["y"]
    links = [
        {
            "id": str(uuid.uuid5(_LINK_NAMESPACE, f"{source}->{node['id']}")),
            "node_id_ref": source,
            "port_id_ref": "outPort",
        }
        for source in node["depends_on"]
    ]
    in_port: dict[str, Any] = {
        "id": "inPort",
        "app_data": {"ui_data": {"cardinality": {"min": 0, "max": -1}, "label": "Input Port"}},
    }
    if links:
        in_port["links"] = links
    return {
        "id": node["id"],
        "type": "execution_node",
        "op": OPS[kind],
        "app_data": {"component_parameters": params, "label": node["label"], "ui_data": ui},
        "inputs": [in_port],
        "outputs": [
            {
                "id": "outPort",
                "app_data": {
                    "ui_data": {"cardinality": {"min": 0, "max": -1}, "label": "Output Port"}
                },
            }
        ],
    }


def _number(value: Any) -> Any:
    """A typed number where the text is one (Elyra writes numbers); the text otherwise, for the
    importer to name."""
    if isinstance(value, (int, float)) or value == "":
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() and "." not in value else number


def _shm(value: str) -> dict[str, Any]:
    if not value:
        return {}
    match = _SHM_RE.match(value)
    if not match:
        return {"size": value, "units": "G"}
    size = float(match.group(1))
    return {"size": int(size) if size.is_integer() else size, "units": match.group(2) or "G"}
