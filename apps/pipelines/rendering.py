"""Render a pipeline to an Argo Workflow manifest through Hera.

An Elyra node becomes one DAG task calling one container template, exactly as docs/steps.md says.
Names: every task is named by a DNS-safe form of its node's label, unique in the pipeline; its
template has the same name. The task name is what the run page matches an Argo node's displayName
against; each template's pod metadata carries the annotations `ydpipelines.io/node-id` and
`ydpipelines.io/node-label` so that the graph (apps.pipelines.graph) can go from a task back to its
Elyra node.

Hera builds every part (Workflow, DAG, Task, Container, artifacts, env, volumes, retry strategy,
resources as models.ResourceRequirements) and serialises it; nothing is written by hand.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterable
from typing import Any

import yaml
from hera.workflows import (
    DAG,
    Artifact,
    Container,
    EmptyDirVolume,
    Env,
    ExistingVolume,
    HTTPArtifact,
    NoneArchiveStrategy,
    Parameter,
    RetryStrategy,
    SecretEnv,
    Task,
    Workflow,
)
from hera.workflows import models as m

from apps.pipelines.bundles import bundle_url, runner_url
from apps.pipelines.constants import ParameterType
from apps.pipelines.spec import Node, PipelineSpec
from apps.pipelines.spec import Parameter as SpecParameter

VERSION_LABEL = "ydpipelines.io/pipeline-version"
NODE_ID_ANNOTATION = "ydpipelines.io/node-id"
NODE_LABEL_ANNOTATION = "ydpipelines.io/node-label"
ENTRYPOINT = "pipeline"

# Paths inside a step: all under /tmp/ydp (see docs/steps.md).
ROOT = "/tmp/ydp"
RUNNER_PATH = f"{ROOT}/steprunner.py"
BUNDLE_PATH = f"{ROOT}/bundle.zip"
WORKDIR = f"{ROOT}/work"
OUT_DIR = f"{ROOT}/out"
UPSTREAM_DIR = f"{ROOT}/upstream"

# Clusters stay clean: pods go once done (after a short delay so the app's sync can copy their
# logs), and the workflow object a day after it ends; the app keeps the history.
POD_GC_DELAY = "60s"
TTL_SECONDS_AFTER_COMPLETION = 24 * 3600

_MAX_TASK_NAME = 48  # leaves room in pod names (workflow name + template + hash, 63 max)
_MAX_GENERATE_NAME = 40


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
    """A typed value as the string Argo carries (None: no value)."""
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    if type_ == ParameterType.BOOL or isinstance(value, bool):
        if isinstance(value, str):
            return "true" if value.strip().lower() in ("true", "1", "yes", "on") else "false"
        return "true" if value else "false"
    if type_ == ParameterType.INTEGER and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def _resources(node: Node) -> m.ResourceRequirements | None:
    requests: dict[str, m.Quantity] = {}
    limits: dict[str, m.Quantity] = {}
    if node.cpu is not None:
        requests["cpu"] = m.Quantity(_number(node.cpu))
    if node.cpu_limit is not None:
        limits["cpu"] = m.Quantity(_number(node.cpu_limit))
    # Elyra gives memory in (decimal) gigabytes.
    if node.memory_gb is not None:
        requests["memory"] = m.Quantity(f"{_number(node.memory_gb)}G")
    if node.memory_limit_gb is not None:
        limits["memory"] = m.Quantity(f"{_number(node.memory_limit_gb)}G")
    # Kubernetes wants extended resources (GPUs) with requests equal to limits: the request wins.
    gpus = node.gpu if node.gpu is not None else node.gpu_limit
    if gpus:
        vendor = node.gpu_vendor or "nvidia.com/gpu"
        requests[vendor] = m.Quantity(str(gpus))
        limits[vendor] = m.Quantity(str(gpus))
    if not requests and not limits:
        return None
    return m.ResourceRequirements(requests=requests or None, limits=limits or None)


def _parents(spec: PipelineSpec) -> dict[str, list[str]]:
    """node id -> its direct parents' ids (those in the pipeline), in node order."""
    order = {n.id: i for i, n in enumerate(spec.nodes)}
    return {
        n.id: sorted({d for d in n.depends_on if d in order}, key=order.__getitem__)
        for n in spec.nodes
    }


def _carriers(spec: PipelineSpec, parents: dict[str, list[str]]) -> set[str]:
    """The nodes whose `outputs` artifact can hold files: those declaring outputs and those
    below one that does (each step re-exports what it received, docs/steps.md)."""
    declares = {n.id: bool(n.outputs) for n in spec.nodes}
    memo: dict[str, bool] = {}
    for node in spec.nodes:
        # Iterative: a 1,000-node chain must not hit the recursion limit.
        # `expanding`: nodes whose parents are being walked (the current path up the DAG).
        stack, expanding = [node.id], set()
        while stack:
            current = stack[-1]
            if current in memo:
                stack.pop()
                continue
            pending = [p for p in parents[current] if p not in memo]
            if pending:
                looped = [p for p in pending if p in expanding]
                if looped:  # the importer refuses cycles; never loop forever on one
                    raise ValueError(f"node {looped[0]!r} depends on itself (a dependency cycle)")
                expanding.add(current)
                stack.extend(pending)
                continue
            stack.pop()
            expanding.discard(current)
            memo[current] = declares[current] or any(memo[p] for p in parents[current])
    return {node_id for node_id, carries in memo.items() if carries}


def _runner_args(node: Node, upstream: list[str]) -> list[str]:
    args = ["--kind", node.kind, "--file", node.filename, "--bundle", BUNDLE_PATH]
    args += ["--workdir", WORKDIR, "--out-dir", OUT_DIR]
    for glob in node.dependencies:
        args += ["--dependency", glob]
    if node.include_subdirectories:
        args.append("--include-subdirectories")
    for output in node.outputs:
        args += ["--output", output]
    for task in upstream:
        args += ["--upstream", f"{UPSTREAM_DIR}/{task}"]
    return args


def _env(node: Node, parameter_names: set[str]) -> list[Env | SecretEnv]:
    values: dict[str, str] = {"ELYRA_RUN_NAME": "{{workflow.name}}"}
    values.update({k: "" if v is None else str(v) for k, v in node.env.items()})
    for name in node.parameters:
        if name in parameter_names:
            values[name] = "{{workflow.parameters." + name + "}}"
    secret_names = {s.env_var for s in node.secrets}
    env: list[Env | SecretEnv] = [
        Env(name=k, value=v) for k, v in values.items() if k not in secret_names
    ]
    env += [SecretEnv(name=s.env_var, secret_name=s.name, secret_key=s.key) for s in node.secrets]
    return env


def _volumes(node: Node) -> list[Any]:
    volumes: list[Any] = [
        ExistingVolume(
            name=f"pvc-{i}",
            claim_name=v.pvc_name,
            mount_path=v.path,
            sub_path=v.sub_path or None,
            read_only=v.read_only or None,
        )
        for i, v in enumerate(node.volumes)
    ]
    if node.shm_size:
        volumes.append(
            EmptyDirVolume(
                name="shm", mount_path="/dev/shm", medium="Memory", size_limit=node.shm_size
            )
        )
    return volumes


def _outputs(node: Node, carries: bool) -> list[Artifact]:
    def file(name: str, path: str) -> Artifact:
        return Artifact(name=name, path=path, optional=True, archive=NoneArchiveStrategy())

    outputs = []
    # Optional: a step may end with nothing there (its upstream brought nothing, or it failed).
    if carries:
        outputs.append(Artifact(name="outputs", path=f"{OUT_DIR}/outputs", optional=True))
    outputs.append(file("mlpipeline-metrics", f"{OUT_DIR}/mlpipeline-metrics.json"))
    outputs.append(file("mlpipeline-ui-metadata", f"{OUT_DIR}/mlpipeline-ui-metadata.json"))
    if node.kind == "notebook":
        outputs.append(file("notebook", f"{OUT_DIR}/notebook.ipynb"))
        outputs.append(file("notebook-html", f"{OUT_DIR}/notebook.html"))
    return outputs


def _container(
    node: Node,
    name: str,
    upstream: list[str],
    upstream_inputs: dict[str, m.Artifact],
    *,
    carries: bool,
    bundle: str,
    runner: str,
    parameter_names: set[str],
) -> Container:
    inputs: list[Artifact | m.Artifact] = [
        HTTPArtifact(name="bundle", path=BUNDLE_PATH, url=bundle),
        HTTPArtifact(name="steprunner", path=RUNNER_PATH, url=runner),
    ]
    inputs += [upstream_inputs[task] for task in upstream]
    annotations = dict(node.pod_annotations)
    annotations[NODE_ID_ANNOTATION] = node.id
    annotations[NODE_LABEL_ANNOTATION] = node.label
    tolerations = [m.Toleration.model_validate(t) for t in node.tolerations]
    return Container(
        name=name,
        image=node.runtime_image,
        command=["python3", RUNNER_PATH],
        args=_runner_args(node, upstream),
        env=_env(node, parameter_names),
        inputs=inputs,
        outputs=_outputs(node, carries),
        resources=_resources(node),
        volumes=_volumes(node) or None,
        tolerations=tolerations or None,
        labels=dict(node.pod_labels) or None,
        annotations=annotations,
        retry_strategy=RetryStrategy(limit=node.retries) if node.retries else None,
        active_deadline_seconds=node.timeout_seconds or None,
    )


def _argument(param: SpecParameter) -> Parameter:
    kwargs: dict[str, Any] = {"name": param.name, "description": param.description or None}
    value = parameter_value(param.type, param.default)
    if value is None and not param.required:
        value = ""  # optional with no default: an empty string, so a run needs no value
    if value is not None:  # a required one without default has none: the run must give it
        kwargs["value"] = value
    if param.type == ParameterType.BOOL:
        kwargs["enum"] = ["true", "false"]
    return Parameter(**kwargs)


def build_workflow(spec: PipelineSpec, *, version_id: uuid.UUID | str) -> Workflow:
    """The Hera Workflow of an Elyra pipeline version (see render_elyra_manifest)."""
    names = task_names(spec.nodes)
    parents = _parents(spec)
    carriers = _carriers(spec, parents)
    parameter_names = {p.name for p in spec.parameters}
    bundle, runner = bundle_url(version_id), runner_url()

    annotations = {"workflows.argoproj.io/title": spec.name}
    if spec.description:
        annotations["workflows.argoproj.io/description"] = spec.description
    with Workflow(
        generate_name=dns_name(spec.name, max_length=_MAX_GENERATE_NAME, fallback="pipeline") + "-",
        entrypoint=ENTRYPOINT,
        labels={VERSION_LABEL: str(version_id)},
        annotations=annotations,
        arguments=[_argument(p) for p in spec.parameters],
        pod_gc=m.PodGC(strategy="OnPodCompletion", delete_delay_duration=POD_GC_DELAY),
        ttl_strategy=m.TTLStrategy(seconds_after_completion=TTL_SECONDS_AFTER_COMPLETION),
    ) as workflow:
        # A node sees all its ancestors' outputs (Elyra's rule) through its direct parents only:
        # each step re-exports what it received (docs/steps.md), so a task takes one input per
        # parent that carries files, and the manifest grows with the edges, not depth squared.
        # Each upstream artifact is built once, as a Hera model, which Hera takes as is (its own
        # Artifact class deep-copies itself on every use).
        upstream_inputs: dict[str, m.Artifact] = {}
        upstream_args: dict[str, m.Artifact] = {}
        for node_id in carriers:
            task = names[node_id]
            upstream_inputs[task] = m.Artifact(
                name=f"upstream-{task}", path=f"{UPSTREAM_DIR}/{task}", optional=True
            )
            # Optional on both sides: a parent may end with nothing to pass on.
            upstream_args[task] = m.Artifact(
                name=f"upstream-{task}",
                from_="{{tasks." + task + ".outputs.artifacts.outputs}}",
                optional=True,
            )
        containers = {}
        for node in spec.nodes:
            upstream = [names[p] for p in parents[node.id] if p in carriers]
            containers[node.id] = (
                _container(
                    node,
                    names[node.id],
                    upstream,
                    upstream_inputs,
                    carries=node.id in carriers,
                    bundle=bundle,
                    runner=runner,
                    parameter_names=parameter_names,
                ),
                upstream,
            )
        with DAG(name=ENTRYPOINT):
            for node in spec.nodes:
                container, upstream = containers[node.id]
                deps = [names[d] for d in node.depends_on if d in names]
                Task(
                    name=names[node.id],
                    template=container,
                    dependencies=deps or None,
                    arguments=m.Arguments(artifacts=[upstream_args[t] for t in upstream])
                    if upstream
                    else None,
                )
    return workflow


def render_elyra_manifest(spec: PipelineSpec, *, version_id: uuid.UUID | str) -> dict[str, Any]:
    """The canonical Workflow manifest (a dict) of an Elyra pipeline version."""
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
        if isinstance(value, str):
            text = value.strip().lower() if enum == ["true", "false"] else value
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
