"""The Hera Workflow of an Elyra pipeline version: every part (Workflow, DAG, Task, Container,
artifacts, env, volumes, retry strategy, resources as models.ResourceRequirements) is built by
Hera and serialised by it; nothing is written by hand. Names and the manifest's conventions are
apps.pipelines.rendering's, which imports this module only when it renders (see its docstring).
"""

from __future__ import annotations

import graphlib
import uuid
from typing import Any

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
from apps.pipelines.rendering import (
    ENTRYPOINT,
    NODE_ID_ANNOTATION,
    NODE_LABEL_ANNOTATION,
    VERSION_LABEL,
    dns_name,
    parameter_value,
    task_names,
)
from apps.pipelines.spec import Node, PipelineSpec
from apps.pipelines.spec import Parameter as SpecParameter

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

_MAX_GENERATE_NAME = 40


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
    try:
        order = list(graphlib.TopologicalSorter(parents).static_order())
    except graphlib.CycleError as exc:  # the importer refuses cycles; never loop on one here
        raise ValueError(
            f"node {exc.args[1][0]!r} depends on itself (a dependency cycle)"
        ) from None
    memo: dict[str, bool] = {}
    for node_id in order:  # parents first
        memo[node_id] = declares[node_id] or any(memo[p] for p in parents[node_id])
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
    # log_metric's points (docs/steps.md); not in `outputs`, so children do not inherit them.
    outputs.append(file("metric-history", f"{OUT_DIR}/metric-history.jsonl"))
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
