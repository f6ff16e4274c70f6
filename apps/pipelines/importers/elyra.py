"""Elyra `.pipeline` files (pipeline-flow v3 documents) to PipelineSpec.

Elyra has written eight format versions (`pipelines[0].app_data.version`, absent in the oldest):
- v0..v3 keep node properties directly in `node.app_data`; v4+ in `app_data.component_parameters`;
- v0/v1 name node files relative to the workspace root, v2+ relative to the pipeline file;
- up to v7 list-valued properties are "KEY=VALUE" strings (env vars, secrets as
  "ENV=secret:key", volumes as "/path=pvc", tolerations as "ID=key:operator:value:effect",
  labels/annotations as "key=value"); v8 writes objects ({"env_var", "value"}, {"path",
  "pvc_name", ...}, {"key", "value"}, ...).
We read every one of these shapes whatever the declared version, since hand-edited and
half-migrated files mix them, and refuse what cannot run here: Airflow operators and catalog
components (Kubeflow or Airflow), whose code lives outside the file.

Problems found in nodes are collected, so one refusal names every faulty node and field.
"""

from __future__ import annotations

import fnmatch
import json
import math
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from apps.pipelines.constants import DEFAULT_RUNTIME_IMAGE, SourceFormat
from apps.pipelines.importers import (
    ImportResult,
    MissingFilesError,
    PipelineImportError,
    Problems,
)
from apps.pipelines.importers.bundle import read_zip, strip_common_root
from apps.pipelines.parameters import typed_value
from apps.pipelines.spec import Node, Parameter, PipelineSpec, SecretRef, VolumeMount
from ydpipelines.dag import find_cycle

LATEST_VERSION = 8
NODE_KINDS = {
    "execute-notebook-node": "notebook",
    "execute-python-node": "python",
    "execute-r-node": "r",
}
KIND_SUFFIXES = {"notebook": (".ipynb",), "python": (".py",), "r": (".r",)}
PARAMETER_TYPES = ("String", "Bool", "Integer", "Float")
MAX_PROBLEMS_SHOWN = 8

# Docker image reference: [registry[:port]/]path[:tag][@digest], path components lower case.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST_PART = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"{_HOST_PART}(?:\.{_HOST_PART})*(?::[0-9]+)?"
IMAGE_RE = re.compile(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
ENV_NAME_RE = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
PARAM_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
QUALIFIED_KEY_RE = re.compile(rf"^(?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?{_LABEL_NAME}$")
LABEL_VALUE_RE = re.compile(rf"^(?:{_LABEL_NAME})?$")
RESOURCE_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$")
TOLERATION_OPERATORS = ("Equal", "Exists")
TOLERATION_EFFECTS = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")
SHM_UNITS = ("G", "Gi", "M", "Mi", "K", "Ki")


# -- entry points ------------------------------------------------------------------------------


def import_pipeline_file(upload_name: str, data: bytes) -> ImportResult:
    """A lone .pipeline file: imported even though the files its nodes name are not uploaded;
    they are listed in `missing_files` (the version page can say so)."""
    doc = parse_json(upload_name, data)
    notes: list[str] = []
    spec = build_spec(doc, source=upload_name, files=None, notes=notes)
    missing = sorted({node.filename for node in spec.nodes})
    result = ImportResult(
        source_format=SourceFormat.ELYRA,
        source_filename=upload_name,
        spec=spec,
        files={_bundle_name(upload_name): data},
        parameters=[_parameter_dict(p) for p in spec.parameters],
        missing_files=missing,
        notes=notes,
    )
    if missing:
        result.notes.append(
            f"{MISSING_FILES_NOTE} ({', '.join(missing)}): upload a zip of the pipeline folder "
            "to run it."
        )
    return result


MISSING_FILES_NOTE = "Uploaded without the files its nodes run"


def import_zip(upload_name: str, data: bytes, *, allow_missing: bool = False) -> ImportResult:
    """A zip of a pipeline folder: exactly one .pipeline file and every file its nodes use.

    A zip lacking only some of those files raises MissingFilesError naming them; with
    `allow_missing` it is imported and they are listed in `missing_files` (credentials files
    are often kept out of shared folders on purpose)."""
    files = strip_common_root(read_zip(upload_name, data))
    pipelines = sorted(name for name in files if name.lower().endswith(".pipeline"))
    if not pipelines:
        raise PipelineImportError(
            f"{upload_name} holds no .pipeline file; zip the folder that contains the pipeline."
        )
    if len(pipelines) > 1:
        shown = ", ".join(pipelines[:10]) + (" ..." if len(pipelines) > 10 else "")
        raise PipelineImportError(
            f"{upload_name} holds {len(pipelines)} .pipeline files ({shown}); upload a zip with "
            "exactly one."
        )
    pipeline_path = pipelines[0]
    display = f"{upload_name}: {pipeline_path}"
    doc = parse_json(display, files[pipeline_path])
    notes: list[str] = []
    missing: list[str] | None = [] if allow_missing else None
    spec = build_spec(
        doc,
        source=display,
        files=files,
        base_dir=posixpath.dirname(pipeline_path),
        notes=notes,
        missing=missing,
    )
    if missing:
        notes.append(
            f"{MISSING_FILES_NOTE} ({', '.join(missing)}): stored anyway, as asked; upload a "
            "zip that holds them as a new version to run every node."
        )
    return ImportResult(
        source_format=SourceFormat.ELYRA,
        source_filename=upload_name,
        spec=spec,
        files=files,
        parameters=[_parameter_dict(p) for p in spec.parameters],
        missing_files=missing or [],
        notes=notes,
    )


def parse_json(source: str, data: bytes) -> dict[str, Any]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PipelineImportError(f"{source} is not UTF-8 text (byte {exc.start}).") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PipelineImportError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from exc
    except RecursionError as exc:
        raise PipelineImportError(f"{source}: JSON nested too deeply.") from exc
    if not isinstance(doc, dict):
        raise PipelineImportError(f"{source}: expected a JSON object at the top level.")
    return doc


# -- the document ------------------------------------------------------------------------------


@dataclass
class _Vertex:
    """A node of the flow graph: an execution node, or a supernode/binding we flatten away."""

    id: str
    kind: str  # "exec" | "virtual"
    label: str
    preds: list[str] = field(default_factory=list)


class _Problems(Problems):
    shown_at_most = MAX_PROBLEMS_SHOWN

    def add(self, message: str) -> None:
        self.add_text(message)


def build_spec(
    doc: dict[str, Any],
    *,
    source: str,
    files: dict[str, bytes] | None,
    base_dir: str = "",
    notes: list[str] | None = None,
    missing: list[str] | None = None,
) -> PipelineSpec:
    """Migrate and validate one pipeline-flow document. `files` are the uploaded files (paths
    relative to the zip's root folder) or None for a lone .pipeline upload; `base_dir` is the
    .pipeline file's folder among them. Node filenames come out as paths inside the bundle.

    Files the nodes use that `files` lacks are refused: with MissingFilesError when nothing else
    is wrong; or, when a `missing` list is given, put in it (sorted) instead."""
    notes = notes if notes is not None else []
    flow_version = doc.get("version")
    if flow_version is not None and not str(flow_version).startswith("3"):
        raise PipelineImportError(
            f"{source}: pipeline-flow version {flow_version!r} is unknown (expected 3.0)."
        )
    if "pipelines" not in doc:
        raise PipelineImportError(f"{source}: missing required field 'pipelines'.")
    pipelines = doc["pipelines"]
    if not isinstance(pipelines, list) or not pipelines:
        raise PipelineImportError(f"{source}: the 'pipelines' list is empty: no nodes to run.")
    by_id: dict[str, dict[str, Any]] = {}
    for index, pipeline in enumerate(pipelines):
        if not isinstance(pipeline, dict):
            raise PipelineImportError(f"{source}: pipelines[{index}] is not an object.")
        by_id[str(pipeline.get("id", index))] = pipeline
    primary_id = doc.get("primary_pipeline")
    primary = by_id.get(str(primary_id)) if primary_id is not None else None
    if primary is None:
        primary = pipelines[0]
    app_data = primary.get("app_data") or {}
    if not isinstance(app_data, dict):
        raise PipelineImportError(f"{source}: the pipeline's 'app_data' is not an object.")
    version = _format_version(app_data.get("version"), source)
    properties = app_data.get("properties") or {}
    if not isinstance(properties, dict):
        raise PipelineImportError(f"{source}: 'app_data.properties' is not an object.")
    problems = _Problems(source)
    defaults = properties.get("pipeline_defaults") or {}
    if not isinstance(defaults, dict):
        problems.add("pipeline_defaults is not an object")
        defaults = {}
    parameters = _pipeline_parameters(properties.get("pipeline_parameters"), problems)
    declared = {p.name for p in parameters}

    vertices: dict[str, _Vertex] = {}
    raw_nodes: list[tuple[dict[str, Any], str]] = []  # (node, pipeline id)
    _collect(primary, by_id, vertices, raw_nodes, problems, seen=set())
    if not raw_nodes:
        problems.add("the pipeline has no nodes")
        problems.raise_if_any()

    runtime = _runtime_name(app_data)
    nodes: list[Node] = []
    imageless: list[str] = []  # labels of the nodes given the default runtime image
    for raw, _pid in raw_nodes:
        node = _build_node(raw, version, defaults, declared, runtime, problems, imageless)
        if node is not None:
            node.filename = _in_bundle(node, base_dir, files, version, problems, notes)
            nodes.append(node)
    _link(vertices, nodes, problems)
    absent = _check_files(nodes, files, problems) if files is not None else []
    if missing is not None:
        missing.extend(sorted({path for path, _ in absent}))
    elif absent:
        nothing_else = not problems.items
        for _, message in absent:
            problems.add(message)
        if nothing_else:
            paths = sorted({path for path, _ in absent})
            raise MissingFilesError(problems.message(), problems.items, paths)
    problems.raise_if_any()
    if imageless:
        shown = ", ".join(f'"{label}"' for label in imageless[:10])
        more = f" and {len(imageless) - 10} more" if len(imageless) > 10 else ""
        notes.append(
            f"{len(imageless)} node{'s' if len(imageless) != 1 else ''} ({shown}{more}) "
            f"name{'s' if len(imageless) == 1 else ''} no runtime image and the pipeline has no "
            f"default one: {'they run' if len(imageless) != 1 else 'it runs'} in "
            f"{DEFAULT_RUNTIME_IMAGE}, the app's default (Elyra's local runtime ignores images; "
            "set one on each node to be sure of its software)."
        )
    name = properties.get("name") or app_data.get("name") or _stem(source)
    if not isinstance(name, str) or "{{" in name:
        name = _stem(source)
    description = properties.get("description") or ""
    return PipelineSpec(
        name=name.strip() or _stem(source),
        description=description if isinstance(description, str) else "",
        nodes=nodes,
        parameters=parameters,
        source_version=version,
    )


def _format_version(raw: Any, source: str) -> int:
    if raw is None:
        return 0  # files written before Elyra versioned its format
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise PipelineImportError(f"{source}: Elyra format version {raw!r} is unknown.")
    try:
        number = float(raw)
    except ValueError:
        raise PipelineImportError(f"{source}: Elyra format version {raw!r} is unknown.") from None
    if not number.is_integer() or number < 0:
        raise PipelineImportError(f"{source}: Elyra format version {raw!r} is unknown.")
    if number > LATEST_VERSION:
        raise PipelineImportError(
            f"{source}: Elyra format version {int(number)} is unknown; this app reads versions "
            f"0 to {LATEST_VERSION}."
        )
    return int(number)


def _runtime_name(app_data: dict[str, Any]) -> str:
    runtime = str(app_data.get("runtime_type") or app_data.get("runtime") or "")
    props = app_data.get("properties") or {}
    if not runtime and isinstance(props, dict):
        runtime = str(props.get("runtime") or "")
    low = runtime.lower()
    if "airflow" in low:
        return "airflow"
    if "kubeflow" in low or low == "kfp":
        return "kfp"
    return ""


def _collect(
    pipeline: dict[str, Any],
    by_id: dict[str, dict[str, Any]],
    vertices: dict[str, _Vertex],
    raw_nodes: list[tuple[dict[str, Any], str]],
    problems: _Problems,
    seen: set[str],
) -> None:
    """Walk a pipeline and the subflows its supernodes open, building the flow graph."""
    pid = str(pipeline.get("id", ""))
    if pid in seen:
        problems.add(f"supernode subflow {pid!r} contains itself")
        return
    seen = seen | {pid}
    nodes = pipeline.get("nodes")
    if nodes is None:
        nodes = []
    if not isinstance(nodes, list):
        problems.add(f"pipeline {pid!r}: 'nodes' is not a list")
        return
    for index, node in enumerate(nodes):
        if not isinstance(node, dict) or not node.get("id"):
            problems.add(f"pipeline {pid!r}: nodes[{index}] has no 'id'")
            continue
        nid = str(node["id"])
        ntype = node.get("type", "execution_node")
        label = _label(node)
        if nid in vertices or f"{nid}#in" in vertices:
            problems.add(f"node id {nid!r} is used twice")
            continue
        preds = _input_links(node)
        if ntype == "execution_node":
            vertices[nid] = _Vertex(nid, "exec", label, preds)
            raw_nodes.append((node, pid))
        elif ntype == "binding":
            vertices[nid] = _Vertex(nid, "virtual", f"binding {nid}", preds)
        elif ntype == "super_node":
            # Flattened: upstream -> S#in -> entry bindings .. exit bindings -> S#out -> downstream
            ref = (node.get("subflow_ref") or {}).get("pipeline_id_ref")
            sub = by_id.get(str(ref)) if ref is not None else None
            if sub is None:
                problems.add(
                    f"supernode {_where(label, nid)} opens subflow {ref!r}, not in the file"
                )
                continue
            vertices[f"{nid}#in"] = _Vertex(f"{nid}#in", "virtual", f"supernode {label}", preds)
            exits = []
            for port in node.get("outputs") or []:
                if isinstance(port, dict) and port.get("subflow_node_ref"):
                    exits.append(str(port["subflow_node_ref"]))
            vertices[f"{nid}#out"] = _Vertex(f"{nid}#out", "virtual", f"supernode {label}", exits)
            _collect(sub, by_id, vertices, raw_nodes, problems, seen)
            for port in node.get("inputs") or []:
                entry = port.get("subflow_node_ref") if isinstance(port, dict) else None
                if entry and str(entry) in vertices:
                    vertices[str(entry)].preds.append(f"{nid}#in")
        else:
            problems.add(f"node {_where(label, nid)} has unsupported type {ntype!r}")
    for link in pipeline.get("links") or []:
        # Some writers keep the edges in a pipeline-level list instead of on input ports.
        if not isinstance(link, dict):
            continue
        src = link.get("srcNodeId") or link.get("source") or link.get("node_id_ref")
        dst = link.get("trgNodeId") or link.get("target")
        if src and dst and str(dst) in vertices:
            vertices[str(dst)].preds.append(str(src))


def _input_links(node: dict[str, Any]) -> list[str]:
    preds = []
    for port in node.get("inputs") or []:
        if not isinstance(port, dict):
            continue
        for link in port.get("links") or []:
            if isinstance(link, dict) and link.get("node_id_ref"):
                preds.append(str(link["node_id_ref"]))
    return preds


def _label(node: dict[str, Any]) -> str:
    app_data = node.get("app_data") if isinstance(node.get("app_data"), dict) else {}
    ui = app_data.get("ui_data") if isinstance(app_data.get("ui_data"), dict) else {}
    params = app_data.get("component_parameters")
    params = params if isinstance(params, dict) else app_data
    for value in (app_data.get("label"), ui.get("label"), params.get("label")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    filename = params.get("filename")
    if isinstance(filename, str) and filename:
        return posixpath.basename(filename.replace("\\", "/"))
    return str(node.get("op") or node.get("type") or "node")


def _where(label: str, nid: str) -> str:
    return f'"{label}" (id {nid})'


# -- one node ----------------------------------------------------------------------------------


def _build_node(
    raw: dict[str, Any],
    version: int,
    defaults: dict[str, Any],
    declared: set[str],
    runtime: str,
    problems: _Problems,
    imageless: list[str],
) -> Node | None:
    nid = str(raw["id"])
    label = _label(raw)
    where = f"node {_where(label, nid)}"
    op = raw.get("op")
    if not op:
        problems.add(f"{where}: missing required field 'op'")
        return None
    if str(op) not in NODE_KINDS:
        problems.add(f"{where}: {_unsupported_op(str(op), raw, runtime)}")
        return None
    kind = NODE_KINDS[str(op)]
    app_data = raw.get("app_data")
    if not isinstance(app_data, dict):
        problems.add(f"{where}: missing required field 'app_data'")
        return None
    props = app_data.get("component_parameters")
    if props is None:
        # v0..v3 keep properties beside ui_data; v4+ in component_parameters.
        props = {k: v for k, v in app_data.items() if k != "ui_data"}
    if not isinstance(props, dict):
        problems.add(f"{where}: 'component_parameters' is not an object")
        return None
    before = len(problems.items)

    filename = props.get("filename")
    if not isinstance(filename, str) or not filename.strip():
        problems.add(f"{where}: missing required field 'filename'")
        filename = ""
    else:
        filename = _relpath(filename.strip(), f"{where}: filename", problems) or ""
        # Older Elyra wrote "execute-notebook-node" for every generic node: the file decides.
        by_suffix = [
            k for k, suffixes in KIND_SUFFIXES.items() if filename.lower().endswith(suffixes)
        ]
        if filename and not by_suffix:
            problems.add(
                f"{where}: file {filename!r} is not a notebook (.ipynb), Python script (.py) "
                "or R script (.r)"
            )
        elif by_suffix:
            kind = by_suffix[0]

    image = _pick(props, defaults, "runtime_image")
    if image is None:
        # Generic pipelines made for Elyra's local runtime often name no image: run them in the
        # default one, and say so on the version page (build_spec's note).
        imageless.append(label)
        image = DEFAULT_RUNTIME_IMAGE
    elif not isinstance(image, str) or not IMAGE_RE.match(image.strip()):
        problems.add(f"{where}: runtime_image {image!r} is not a valid image name")
        image = ""
    else:
        image = image.strip()

    def number(key: str, *, integer: bool = False, allow_zero: bool = False) -> Any:
        return _number(
            _pick(props, defaults, key), f"{where}: {key}", problems, integer, allow_zero
        )

    cpu = number("cpu")
    cpu_limit = number("cpu_limit")
    memory = number("memory")
    memory_limit = number("memory_limit")
    gpu = number("gpu", integer=True, allow_zero=True)
    gpu_limit = number("gpu_limit", integer=True, allow_zero=True)
    for low, high, key in (
        (cpu, cpu_limit, "cpu"),
        (memory, memory_limit, "memory"),
        (gpu, gpu_limit, "gpu"),
    ):
        if low is not None and high is not None and high < low:
            problems.add(f"{where}: {key}_limit {high:g} is below the request {key} {low:g}")
    vendor = _pick(props, defaults, "gpu_vendor") or "nvidia.com/gpu"
    if not isinstance(vendor, str) or not RESOURCE_NAME_RE.match(vendor):
        problems.add(f"{where}: gpu_vendor {vendor!r} is not a resource name like nvidia.com/gpu")
        vendor = "nvidia.com/gpu"

    env = _env_vars(defaults.get("env_vars"), "pipeline_defaults env_vars", problems)
    env.update(_env_vars(props.get("env_vars"), f"{where}: env_vars", problems))
    dependencies = _path_list(props.get("dependencies"), f"{where}: dependencies", problems)
    outputs = _path_list(props.get("outputs"), f"{where}: outputs", problems)
    include_sub = _bool(
        props.get("include_subdirectories"), f"{where}: include_subdirectories", problems
    )

    node_params = props.get("pipeline_parameters") or []
    if not isinstance(node_params, list):
        problems.add(f"{where}: pipeline_parameters is not a list")
        node_params = []
    used: list[str] = []
    for pname in node_params:
        if not isinstance(pname, str) or pname not in declared:
            problems.add(f"{where}: uses pipeline parameter {pname!r}, which is not declared")
        elif pname not in used:
            used.append(pname)

    secrets = _keyed(
        defaults.get("kubernetes_secrets"),
        props.get("kubernetes_secrets"),
        lambda v, w: _secret(v, w, problems),
        f"{where}: kubernetes_secrets",
    )
    volumes = _keyed(
        defaults.get("mounted_volumes"),
        props.get("mounted_volumes"),
        lambda v, w: _volume(v, w, problems),
        f"{where}: mounted_volumes",
    )
    tolerations = _keyed(
        defaults.get("kubernetes_tolerations"),
        props.get("kubernetes_tolerations"),
        lambda v, w: _toleration(v, w, problems),
        f"{where}: kubernetes_tolerations",
    )
    labels = dict(
        _keyed(
            defaults.get("kubernetes_pod_labels"),
            props.get("kubernetes_pod_labels"),
            lambda v, w: _key_value(v, w, problems, label=True),
            f"{where}: kubernetes_pod_labels",
        )
    )
    annotations = dict(
        _keyed(
            defaults.get("kubernetes_pod_annotations"),
            props.get("kubernetes_pod_annotations"),
            lambda v, w: _key_value(v, w, problems, label=False),
            f"{where}: kubernetes_pod_annotations",
        )
    )
    # Not Elyra properties: written by the app's own editor (Elyra ignores unknown keys).
    retries = number("retries", integer=True, allow_zero=True)
    timeout = number("timeout_seconds", integer=True)
    shm = _shm_size(
        _pick(props, defaults, "kubernetes_shared_mem_size"),
        f"{where}: kubernetes_shared_mem_size",
        problems,
    )

    if len(problems.items) != before:
        return None
    return Node(
        id=nid,
        label=label,
        kind=kind,
        filename=filename,
        runtime_image=image,
        cpu=cpu,
        cpu_limit=cpu_limit,
        memory_gb=memory,
        memory_limit_gb=memory_limit,
        gpu=gpu or None,
        gpu_limit=gpu_limit or None,
        gpu_vendor=vendor,
        env=env,
        dependencies=dependencies,
        include_subdirectories=include_sub,
        outputs=outputs,
        parameters=used,
        secrets=[s for _, s in secrets],
        volumes=[v for _, v in volumes],
        tolerations=[t for _, t in tolerations],
        pod_labels=labels,
        pod_annotations=annotations,
        shm_size=shm,
        retries=retries or None,
        timeout_seconds=timeout,
    )


def _unsupported_op(op: str, raw: dict[str, Any], runtime: str) -> str:
    app_data = raw.get("app_data") if isinstance(raw.get("app_data"), dict) else {}
    source = str(app_data.get("component_source") or "")
    is_airflow = runtime == "airflow" or "airflow" in source.lower() or "Operator" in op
    if ":" in op or source or "_" in op or is_airflow:
        what = "an Apache Airflow operator" if is_airflow else "a Kubeflow Pipelines component"
        return (
            f"op {op!r} is {what} from a component catalog, which this app cannot run "
            "(supported: notebook, Python script and R script nodes)"
        )
    return f"unknown node op {op!r} (supported: {', '.join(sorted(NODE_KINDS))})"


def _pick(props: dict[str, Any], defaults: dict[str, Any], key: str) -> Any:
    """The node's value, else the pipeline default: empty values count as unset."""
    value = props.get(key)
    if _empty(value):
        value = defaults.get(key)
    return None if _empty(value) else value


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _number(value: Any, where: str, problems: _Problems, integer: bool, allow_zero: bool) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        problems.add(f"{where} must be a number, got {value!r}")
        return None
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        problems.add(f"{where} must be a number, got {value!r}")
        return None
    if math.isnan(number) or math.isinf(number):
        problems.add(f"{where} must be a finite number, got {value!r}")
        return None
    if number < 0 or (number == 0 and not allow_zero):
        problems.add(
            f"{where} must be {'zero or more' if allow_zero else 'positive'}, got {value!r}"
        )
        return None
    if integer:
        if not number.is_integer():
            problems.add(f"{where} must be a whole number, got {value!r}")
            return None
        return int(number)
    return number


def _bool(value: Any, where: str, problems: _Problems) -> bool:
    if value in (None, ""):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    problems.add(f"{where} must be true or false, got {value!r}")
    return False


def _relpath(value: str, where: str, problems: _Problems) -> str | None:
    """A "/"-separated relative path; absolute paths are refused ('..' is checked later, against
    the bundle's root)."""
    clean = value.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":"):
        problems.add(f"{where} {value!r} is an absolute path; use a path relative to the pipeline")
        return None
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    return "/".join(parts)


def _path_list(value: Any, where: str, problems: _Problems) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v for v in value.split(",")]
    if not isinstance(value, list):
        problems.add(f"{where} must be a list of paths")
        return []
    out: list[str] = []
    for item in value:
        if item is None or (isinstance(item, str) and not item.strip()):
            continue  # Elyra's editor leaves blank rows (old files even nulls)
        if not isinstance(item, str):
            problems.add(f"{where}: {item!r} is not a path")
            continue
        path = _relpath(item.strip(), where, problems)
        if path and path not in out:
            out.append(path)
    return out


def _split_kv(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return key.strip(), value.strip()


def _env_vars(value: Any, where: str, problems: _Problems) -> dict[str, str]:
    env: dict[str, str] = {}
    if value in (None, ""):
        return env
    if not isinstance(value, list):
        problems.add(f"{where} must be a list")
        return env
    for item in value:
        if item is None:
            continue  # old editors wrote null rows
        if isinstance(item, str):  # v7 and older: "KEY=VALUE"
            if not item.strip():
                continue
            key, val = _split_kv(item)
        elif isinstance(item, dict):  # v8: {"env_var": ..., "value": ...}
            key = str(item.get("env_var") or "").strip()
            raw = item.get("value")
            val = "" if raw is None else str(raw)
            if not key and not val:
                continue
        else:
            problems.add(f"{where}: {item!r} is neither 'KEY=VALUE' nor an object")
            continue
        if not ENV_NAME_RE.match(key):
            problems.add(f"{where}: {key!r} is not a valid environment variable name")
            continue
        env[key] = val
    return env


def _keyed(defaults: Any, values: Any, parse: Any, where: str) -> list[tuple[str, Any]]:
    """Merge a pipeline default list with the node's list; the node wins on equal keys."""
    merged: dict[str, Any] = {}
    for source, label in ((defaults, "pipeline_defaults"), (values, where)):
        if source in (None, ""):
            continue
        if not isinstance(source, list):
            source = [source]
        for item in source:
            parsed = parse(item, label)
            if parsed is not None:
                merged[parsed[0]] = parsed[1]
    return list(merged.items())


def _secret(item: Any, where: str, problems: _Problems) -> tuple[str, SecretRef] | None:
    if isinstance(item, str):  # "ENV_VAR=secret-name:key"
        if not item.strip():
            return None
        env_var, ref = _split_kv(item)
        name, _, key = ref.partition(":")
    elif isinstance(item, dict):
        env_var = str(item.get("env_var") or "").strip()
        name = str(item.get("name") or "").strip()
        key = str(item.get("key") or "").strip()
        if not (env_var or name or key):
            return None
    else:
        problems.add(f"{where}: {item!r} is not a secret reference")
        return None
    name, key = name.strip(), key.strip()
    if not ENV_NAME_RE.match(env_var) or not DNS_LABEL_RE.match(name) or not key:
        problems.add(
            f"{where}: {item!r} needs an env var name, a secret name (lower-case DNS name), a key"
        )
        return None
    return env_var, SecretRef(env_var=env_var, name=name, key=key)


def _volume(item: Any, where: str, problems: _Problems) -> tuple[str, VolumeMount] | None:
    if isinstance(item, str):  # "/mnt/path=pvc-name"
        if not item.strip():
            return None
        path, pvc = _split_kv(item)
        sub_path, read_only = "", False
    elif isinstance(item, dict):
        path = str(item.get("path") or "").strip()
        pvc = str(item.get("pvc_name") or "").strip()
        sub_path = str(item.get("sub_path") or "").strip()
        read_only = bool(item.get("read_only"))
        if not (path or pvc):
            return None
    else:
        problems.add(f"{where}: {item!r} is not a volume mount")
        return None
    if path and not path.startswith("/"):
        path = "/" + path  # Elyra's editor accepted "mnt/data"; Kubernetes needs it absolute
    if not path or not DNS_LABEL_RE.match(pvc):
        problems.add(f"{where}: {item!r} needs a mount path and a PVC name (lower-case DNS name)")
        return None
    if sub_path.startswith("/") or ".." in sub_path.split("/"):
        problems.add(f"{where}: sub_path {sub_path!r} must be relative, without '..'")
        return None
    return path, VolumeMount(path=path, pvc_name=pvc, sub_path=sub_path, read_only=read_only)


def _toleration(item: Any, where: str, problems: _Problems) -> tuple[str, dict[str, Any]] | None:
    if isinstance(item, str):  # "ID=key:operator:value:effect"
        if not item.strip():
            return None
        _, spec = _split_kv(item)
        parts = ([*spec.split(":"), "", "", "", ""])[:4]
        key, operator, value, effect = (p.strip() for p in parts)
    elif isinstance(item, dict):
        key = str(item.get("key") or "").strip()
        operator = str(item.get("operator") or "").strip()
        value = str(item.get("value") or "").strip()
        effect = str(item.get("effect") or "").strip()
        if not (key or operator or value or effect):
            return None
    else:
        problems.add(f"{where}: {item!r} is not a toleration")
        return None
    operator = operator or "Equal"
    if operator not in TOLERATION_OPERATORS or effect not in TOLERATION_EFFECTS:
        problems.add(
            f"{where}: {item!r} needs operator Equal or Exists and effect NoSchedule, "
            "PreferNoSchedule, NoExecute or none"
        )
        return None
    if operator == "Exists" and value:
        problems.add(f"{where}: {item!r}: operator Exists takes no value")
        return None
    toleration: dict[str, Any] = {"operator": operator}
    if key:
        toleration["key"] = key
    if value:
        toleration["value"] = value
    if effect:
        toleration["effect"] = effect
    ident = json.dumps(toleration, sort_keys=True)
    return ident, toleration


def _key_value(
    item: Any, where: str, problems: _Problems, *, label: bool
) -> tuple[str, str] | None:
    if isinstance(item, str):  # "key=value"
        if not item.strip():
            return None
        key, value = _split_kv(item)
    elif isinstance(item, dict):
        key = str(item.get("key") or "").strip()
        raw = item.get("value")
        value = "" if raw is None else str(raw)
        if not key and not value:
            return None
    else:
        problems.add(f"{where}: {item!r} is not a key/value pair")
        return None
    if not QUALIFIED_KEY_RE.match(key):
        problems.add(f"{where}: {key!r} is not a valid Kubernetes key")
        return None
    if label and not LABEL_VALUE_RE.match(value):
        problems.add(f"{where}: label value {value!r} is not valid (63 characters, alphanumeric)")
        return None
    return key, value


def _shm_size(value: Any, where: str, problems: _Problems) -> str:
    if value is None:
        return ""
    units = "G"
    if isinstance(value, dict):
        units = str(value.get("units") or "G")
        value = value.get("size")
        if value in (None, ""):
            return ""
    size = _number(value, where, problems, False, True)
    if size is None or size == 0:
        return ""
    if units not in SHM_UNITS:
        problems.add(f"{where}: unit {units!r} is not one of {', '.join(SHM_UNITS)}")
        return ""
    return f"{size:g}{units}"


def _pipeline_parameters(value: Any, problems: _Problems) -> list[Parameter]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        problems.add("pipeline_parameters must be a list")
        return []
    params: list[Parameter] = []
    for index, item in enumerate(value):
        where = f"pipeline parameter #{index + 1}"
        if not isinstance(item, dict):
            problems.add(f"{where}: {item!r} is not an object with a name and a default_value")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not PARAM_NAME_RE.match(name):
            problems.add(f"{where}: name {name!r} must be a letter or _ then letters, digits, _")
            continue
        where = f"pipeline parameter {name!r}"
        if any(p.name == name for p in params):
            problems.add(f"{where} is declared twice")
            continue
        default_value = item.get("default_value") or {}
        if not isinstance(default_value, dict):
            default_value = {"type": "String", "value": default_value}
        ptype = default_value.get("type") or "String"
        if ptype not in PARAMETER_TYPES:
            problems.add(f"{where}: type {ptype!r} is not one of {', '.join(PARAMETER_TYPES)}")
            continue
        try:
            default = typed_value(ptype, default_value.get("value"))
        except ValueError as exc:
            problems.add(f"{where}: default {exc}")
            continue
        params.append(
            Parameter(
                name=name,
                type=ptype,
                default=default,
                description=str(item.get("description") or ""),
                required=bool(item.get("required")),
            )
        )
    return params


# -- the graph ---------------------------------------------------------------------------------


def _link(vertices: dict[str, _Vertex], nodes: list[Node], problems: _Problems) -> None:
    """Resolve links (through supernodes and bindings) to depends_on; refuse cycles."""
    for vertex in list(vertices.values()):
        resolved = []
        for pred in vertex.preds:
            if pred in vertices:
                resolved.append(pred)
            elif f"{pred}#out" in vertices:
                resolved.append(f"{pred}#out")  # a link from a supernode leaves its exit
            else:
                where = (
                    vertex.label
                    if vertex.kind == "virtual"
                    else f"node {_where(vertex.label, vertex.id)}"
                )
                problems.add(f"{where} links to node id {pred!r}, which is not in the pipeline")
        vertex.preds = resolved
    cycle = find_cycle({vid: vertex.preds for vid, vertex in vertices.items()})[:-1]
    if cycle:
        names = [f'"{vertices[v].label}"' for v in cycle if vertices[v].kind == "exec"]
        names = names or [vertices[v].label for v in cycle]
        problems.add(f"the links form a cycle: {' -> '.join(names + names[:1])}")
        return
    for node in nodes:
        node.depends_on = _exec_preds(node.id, vertices)


def _exec_preds(vid: str, vertices: dict[str, _Vertex]) -> list[str]:
    found: list[str] = []
    seen: set[str] = set()
    todo = list(vertices[vid].preds)
    while todo:
        pred = todo.pop(0)
        if pred in seen:
            continue
        seen.add(pred)
        if vertices[pred].kind == "exec":
            if pred not in found:
                found.append(pred)
        else:
            todo.extend(vertices[pred].preds)
    return found


# -- files of a zip upload ---------------------------------------------------------------------


def _in_bundle(
    node: Node,
    base_dir: str,
    files: dict[str, bytes] | None,
    version: int,
    problems: _Problems,
    notes: list[str],
) -> str:
    """The node file's path inside the bundle. Elyra names it relative to the .pipeline file
    (v2+) or to the workspace root (v0/v1, whose root we do not know: we look for the longest
    tail of the path that was uploaded)."""
    where = f"node {_where(node.label, node.id)}"
    path = posixpath.normpath(posixpath.join(base_dir, node.filename)) if node.filename else ""
    if files is not None and path not in files and version < 2:
        parts = node.filename.split("/")
        for start in range(1, len(parts)):
            candidate = posixpath.normpath(posixpath.join(base_dir, "/".join(parts[start:])))
            if candidate in files:
                return candidate
    if path == ".." or path.startswith("../"):
        if files is not None:
            problems.add(f"{where}: file {node.filename!r} lies outside the zip's folder")
            return path
        # A lone .pipeline has no folder to climb out of: keep the part below it.
        inner = "/".join(p for p in path.split("/") if p != "..")
        notes.append(f"{where}: file {node.filename!r} is outside the pipeline's folder.")
        return inner
    return path


def dependency_matches(pattern: str, name: str) -> bool:
    """Whether a file (its path in the bundle) is one a node's dependency names: the pattern is
    already joined to the node's folder; a folder matches what is in it."""
    return fnmatch.fnmatchcase(name, pattern) or name.startswith(pattern.rstrip("/") + "/")


def dependency_pattern(filename: str, dependency: str) -> str:
    """A node's dependency as a path in the bundle: relative to the node file's folder."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(filename), dependency))


def _check_files(
    nodes: list[Node], files: dict[str, bytes], problems: _Problems
) -> list[tuple[str, str]]:
    """Adds what is wrong with the nodes' paths to `problems`; returns the files (or dependency
    patterns) the zip lacks, each with the message that names it."""
    absent: list[tuple[str, str]] = []
    names = set(files)
    produced: set[str] = set()
    for node in nodes:
        folder = posixpath.dirname(node.filename)
        produced.update(posixpath.normpath(posixpath.join(folder, out)) for out in node.outputs)
    for node in nodes:
        where = f"node {_where(node.label, node.id)}"
        if node.filename.startswith("../"):
            continue  # already refused
        if node.filename not in names:
            absent.append(
                (node.filename, f"{where}: file {node.filename!r} is missing from the zip")
            )
            continue
        for dep in node.dependencies:
            pattern = dependency_pattern(node.filename, dep)
            if pattern.startswith("../"):
                problems.add(f"{where}: dependency {dep!r} lies outside the zip's folder")
                continue
            if pattern in produced:
                continue  # an upstream node writes it
            if not any(dependency_matches(pattern, name) for name in names):
                absent.append((pattern, f"{where}: dependency {dep!r} matches no file in the zip"))
    return absent


# -- helpers -----------------------------------------------------------------------------------


def _parameter_dict(param: Parameter) -> dict[str, Any]:
    return {
        "name": param.name,
        "type": param.type,
        "default": param.default,
        "description": param.description,
        "required": param.required,
    }


def _stem(source: str) -> str:
    base = posixpath.basename(source.replace("\\", "/").split(": ")[-1])
    return base.rsplit(".", 1)[0] or "pipeline"


def _bundle_name(upload_name: str) -> str:
    return posixpath.basename(upload_name.replace("\\", "/")) or "pipeline.pipeline"
