"""Create-time checks: a malformed workflow gets a 400 naming the field, and a feature this
engine cannot run gets ``unsupported: <field path>`` instead of a workflow that would hang."""

from __future__ import annotations

import os
import platform
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from ydpipelines.dag import find_cycle

from . import artifact_gc
from .expressions import ExpressionError, check_expr
from .template_defaults import with_defaults
from .templating import find_tags
from .volumes import (
    CLAIM_NAME,
    KINDS,
    VolumeError,
    mount_path_problem,
    parse_quantity,
    sub_path_problem,
    under,
)

if TYPE_CHECKING:
    from .engine import Engine

GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 501: 12, 503: 14}


class ApiError(Exception):
    """An error answered the way the Argo Server answers (grpc-gateway's error body)."""

    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason

    def body(self) -> dict[str, Any]:
        return {"code": GRPC_CODES.get(self.status, 2), "message": self.message}

    def frame(self) -> dict[str, Any]:
        """The error as one line of a stream (grpc-gateway's StreamError, e.g. in logs)."""
        return {
            "error": {
                "grpc_code": GRPC_CODES.get(self.status, 2),
                "http_code": self.status,
                "message": self.message,
                "http_status": HTTPStatus(self.status).phrase,
            }
        }


_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
# The labels Kubernetes puts on every node, as this machine's one node would carry them.
NODE_LABELS = {
    "kubernetes.io/os": "linux",
    "beta.kubernetes.io/os": "linux",
    "kubernetes.io/arch": _ARCH,
    "beta.kubernetes.io/arch": _ARCH,
    "kubernetes.io/hostname": "localhost",
}
UNSUPPORTED_TEMPLATE_KINDS = ("resource", "containerSet", "data", "http", "plugin")
UNSUPPORTED_TEMPLATE_FIELDS = (
    "sidecars",
    "initContainers",
    "daemon",
    "memoize",
    "podSpecPatch",
    "hostAliases",  # entries of the pod's /etc/hosts: steps here share the host's
)
REMOTE_ARTIFACTS = ("s3", "gcs", "git", "hdfs", "artifactory", "azure", "oss", "plugin")
RUNNABLE = ("container", "script", "dag", "steps", "suspend")


def unsupported(path: str, why: str = "") -> ApiError:
    return ApiError(400, f"unsupported: {path}" + (f" ({why})" if why else ""))


def reachable(path: str, mounts: list[str]) -> bool:
    """Can the engine reach this container path from the host: under the step's private /tmp
    (relative paths are), or under one of the template's volume mounts?"""
    norm = os.path.normpath(path)
    return not norm.startswith("/") or any(under(norm, base) for base in ("/tmp", *mounts))


def mount_paths(body: dict[str, Any] | None) -> list[str]:
    return [
        os.path.normpath(m["mountPath"])
        for m in (body or {}).get("volumeMounts") or []
        if isinstance(m, dict) and isinstance(m.get("mountPath"), str)
    ]


def validate_workflow(wf: dict[str, Any], engine: Engine | None = None) -> None:
    spec = wf.get("spec")
    if not isinstance(spec, dict):
        raise ApiError(400, "spec is required")
    validate_spec(spec, "spec")


def validate_spec(spec: dict[str, Any], where: str, need_entrypoint: bool = True) -> None:
    from .shape import SPEC, check_shape  # shape raises this module's ApiError

    check_shape(spec, SPEC, where)
    _check_named(spec.get("arguments"), f"{where}.arguments")
    templates = spec.get("templates") or []
    if not isinstance(templates, list):
        raise ApiError(400, f"{where}.templates must be a list")
    names = set()
    for i, tmpl in enumerate(templates):
        if not isinstance(tmpl, dict) or not tmpl.get("name"):
            raise ApiError(400, f"{where}.templates[{i}].name is required")
        if tmpl["name"] in names:
            raise ApiError(400, f"{where}.templates[{i}].name {tmpl['name']!r} is not unique")
        names.add(tmpl["name"])
    entry = spec.get("entrypoint")
    if need_entrypoint and not entry and not spec.get("workflowTemplateRef"):
        raise ApiError(400, f"{where}.entrypoint is required")
    if entry and templates and entry not in names and "{{" not in entry:
        raise ApiError(400, f"{where}.entrypoint template {entry!r} is not defined")
    for field in ("artifactRepositoryRef", "podGCLabelSelector", "podSpecPatch", "hostAliases"):
        if spec.get(field):
            raise unsupported(f"{where}.{field}")
    for j, vct in enumerate(spec.get("volumeClaimTemplates") or []):
        name = (vct.get("metadata") or {}).get("name") if isinstance(vct, dict) else None
        if not name or not CLAIM_NAME.match(str(name)):
            raise ApiError(400, f"{where}.volumeClaimTemplates[{j}].metadata.name is required")
    _check_volumes(spec.get("volumes"), f"{where}.volumes")
    _check_artifact_gc(spec.get("artifactGC"), f"{where}.artifactGC")
    _check_workflow_hooks(spec.get("hooks") or {}, f"{where}.hooks")
    _check_node_selector(spec.get("nodeSelector"), f"{where}.nodeSelector")
    _check_sync(spec.get("synchronization"), f"{where}.synchronization")
    par = spec.get("parallelism")
    if isinstance(par, int) and par <= 0:
        # Argo's controller holds every pod while active pods >= spec.parallelism: never run
        raise unsupported(f"{where}.parallelism", f"{par} would never start a pod")
    defaults = spec.get("templateDefaults")
    if defaults is not None and not isinstance(defaults, dict):
        raise ApiError(400, f"{where}.templateDefaults must be an object")
    for i, tmpl in enumerate(templates):
        validate_template(with_defaults(tmpl, defaults), f"{where}.templates[{i}]", names)
    _check_expressions(spec, where)


def _check_node_selector(selector: Any, where: str) -> None:
    """A selector on a well-known label this machine's one node does not carry would leave the
    pod Pending for ever in Kubernetes: refused. Other labels (node pools, accelerators) are
    not enforced; the step's node says so (engine.run_note)."""
    for key, value in (selector or {}).items():
        if "{{" not in str(value) and unschedulable(key, value):
            raise unsupported(
                f"{where}.{key}",
                f"{value!r}: this machine's only node has {key}={NODE_LABELS[key]}, "
                "so the pod would never be scheduled",
            )


def unschedulable(key: str, value: Any) -> bool:
    """Does ``key=value`` ask for a well-known node label this machine's node does not have?"""
    have = NODE_LABELS.get(key)
    return have is not None and str(value) != have


def _check_workflow_hooks(hooks: Any, where: str) -> None:
    """Workflow-level lifecycle hooks: each but `exit` needs an expression the evaluator has
    every function of, and a template to run."""
    if not isinstance(hooks, dict):
        raise ApiError(400, f"{where} must be an object")
    for name, hook in hooks.items():
        if not isinstance(hook, dict) or not (hook.get("template") or hook.get("templateRef")):
            raise ApiError(400, f"{where}.{name}.template is required")
        if name == "exit":
            continue
        expression = hook.get("expression")
        if not isinstance(expression, str) or not expression.strip():
            raise ApiError(400, f"{where}.{name}.expression is required")
        try:
            check_expr(expression)
        except ExpressionError as exc:
            raise unsupported(f"{where}.{name}.expression", str(exc)) from exc


def _check_artifact_gc(gc: Any, where: str) -> None:
    """Argo's strategies (artifact_gc.py); another value is refused, as Argo's CRD does."""
    strategy = gc.get("strategy") if isinstance(gc, dict) else None
    if strategy is not None and strategy not in artifact_gc.STRATEGIES:
        raise ApiError(
            400,
            f"{where}.strategy {strategy!r} must be one of "
            "OnWorkflowCompletion, OnWorkflowDeletion, Never",
        )


def _check_sync(sync: dict[str, Any] | None, where: str) -> None:
    if not sync:
        return
    for j, sem in enumerate(sync.get("semaphores") or []):
        if "database" in sem:
            raise unsupported(f"{where}.semaphores[{j}].database", "database semaphores")


def validate_template(tmpl: dict[str, Any], where: str, names: set[str]) -> None:
    for kind in UNSUPPORTED_TEMPLATE_KINDS:
        if kind in tmpl:
            raise unsupported(f"{where}.{kind}")
    for field in UNSUPPORTED_TEMPLATE_FIELDS:
        if tmpl.get(field):
            raise unsupported(f"{where}.{field}")
    if not any(k in tmpl for k in RUNNABLE):
        raise ApiError(400, f"{where} has no container, script, dag, steps or suspend")
    _check_durations(tmpl, where)
    _check_node_selector(tmpl.get("nodeSelector"), f"{where}.nodeSelector")
    _check_sync(tmpl.get("synchronization"), f"{where}.synchronization")
    _check_volumes(tmpl.get("volumes"), f"{where}.volumes")
    body = tmpl.get("container") or tmpl.get("script")
    if body:
        _check_container(body, f"{where}.{'container' if 'container' in tmpl else 'script'}")
    mounts = mount_paths(body)
    for section in ("inputs", "outputs"):
        _check_named(tmpl.get(section), f"{where}.{section}")
    inputs = tmpl.get("inputs") or {}
    for j, p in enumerate(inputs.get("parameters") or []):
        if (p.get("valueFrom") or {}).get("configMapKeyRef"):
            raise unsupported(f"{where}.inputs.parameters[{j}].valueFrom.configMapKeyRef")
    for j, art in enumerate(inputs.get("artifacts") or []):
        _check_artifact(art, f"{where}.inputs.artifacts[{j}]", body is not None, mounts)
    outputs = tmpl.get("outputs") or {}
    for j, p in enumerate(outputs.get("parameters") or []):
        vf = p.get("valueFrom") or {}
        for bad in ("jsonPath", "jqFilter", "event", "configMapKeyRef"):
            if bad in vf:
                raise unsupported(f"{where}.outputs.parameters[{j}].valueFrom.{bad}")
        path = vf.get("path")
        if path and body is not None and not reachable(path, mounts) and "{{" not in path:
            raise unsupported(
                f"{where}.outputs.parameters[{j}].valueFrom.path",
                f"{path} is outside /tmp and the template's volume mounts",
            )
    for j, art in enumerate(outputs.get("artifacts") or []):
        _check_artifact(art, f"{where}.outputs.artifacts[{j}]", body is not None, mounts)
        _check_artifact_gc(art.get("artifactGC"), f"{where}.outputs.artifacts[{j}].artifactGC")
    for j, group in enumerate(tmpl.get("steps") or []):
        for k, step in enumerate(group or []):
            _check_task(step, f"{where}.steps[{j}][{k}]", names)
    tasks = (tmpl.get("dag") or {}).get("tasks") or []
    for j, task in enumerate(tasks):
        _check_task(task, f"{where}.dag.tasks[{j}]", names)
    _check_dag_graph(tasks, f"{where}.dag")


def _check_durations(tmpl: dict[str, Any], where: str) -> None:
    """``timeout`` bounds a pod (Argo: not Steps or DAG templates); durations must parse."""
    from .controller import parse_duration

    timeout = tmpl.get("timeout")
    if timeout and not any(k in tmpl for k in ("container", "script")):
        raise unsupported(f"{where}.timeout", "only container and script templates have a timeout")
    max_duration = ((tmpl.get("retryStrategy") or {}).get("backoff") or {}).get("maxDuration")
    for field, value in (("timeout", timeout), ("retryStrategy.backoff.maxDuration", max_duration)):
        if value and "{{" not in str(value):
            try:
                parse_duration(value)
            except ValueError as exc:
                raise ApiError(400, f"{where}.{field}: {exc}") from exc


def _check_dag_graph(tasks: list[dict[str, Any]], where: str) -> None:
    """Argo refuses a DAG whose tasks name an unknown task or depend on each other in a
    cycle; either would leave a task waiting forever."""
    from .expressions import ExpressionError, task_dependencies

    deps: dict[str, list[str]] = {}
    for j, task in enumerate(tasks):
        try:
            deps[task["name"]] = task_dependencies(task)
        except ExpressionError as exc:
            raise ApiError(400, f"{where}.tasks[{j}].depends: {exc}") from exc
    for j, task in enumerate(tasks):
        for dep in deps[task["name"]]:
            if dep not in deps:
                raise ApiError(400, f"{where}.tasks[{j}] dependency {dep!r} is not a task")
    cycle = find_cycle(deps)
    if cycle:
        raise ApiError(400, f"{where}: dependency cycle detected: {' -> '.join(cycle)}")


def _check_named(section: dict[str, Any] | None, where: str) -> None:
    """Parameters and artifacts are found by name: Argo requires one."""
    for kind in ("parameters", "artifacts"):
        for j, item in enumerate((section or {}).get(kind) or []):
            if not item.get("name"):
                raise ApiError(400, f"{where}.{kind}[{j}].name is required")


def _check_task(task: dict[str, Any], where: str, names: set[str]) -> None:
    if not task.get("name"):
        raise ApiError(400, f"{where}.name is required")
    _check_named(task.get("arguments"), f"{where}.arguments")
    for name in task.get("hooks") or {}:
        if name != "exit":
            raise unsupported(
                f"{where}.hooks.{name}", "only the exit hook is supported on steps and tasks"
            )
    if task.get("inline"):
        validate_template({"name": "inline", **task["inline"]}, f"{where}.inline", names)
    elif task.get("templateRef"):
        pass  # resolved against stored WorkflowTemplates at run time
    elif not task.get("template"):
        raise ApiError(400, f"{where}.template is required")
    elif task["template"] not in names and "{{" not in task["template"]:
        raise ApiError(400, f"{where}.template {task['template']!r} is not defined")
    for j, art in enumerate((task.get("arguments") or {}).get("artifacts") or []):
        for kind in REMOTE_ARTIFACTS:
            if kind in art:
                raise unsupported(f"{where}.arguments.artifacts[{j}].{kind}")


def _check_container(body: dict[str, Any], where: str) -> None:
    image = str(body.get("image") or "")
    if "kubectl" in image.rsplit("/", 1)[-1].split(":")[0]:
        # its steps drive the cluster (get, delete pods...): there is none behind this engine
        raise unsupported(f"{where}.image", f"{image} needs a Kubernetes API; this engine has none")
    for j, var in enumerate(body.get("env") or []):
        vf = var.get("valueFrom") or {}
        if "resourceFieldRef" in vf:
            raise unsupported(f"{where}.env[{j}].valueFrom.resourceFieldRef")
    if body.get("envFrom"):
        raise unsupported(f"{where}.envFrom")
    for j, mount in enumerate(body.get("volumeMounts") or []):
        at = f"{where}.volumeMounts[{j}]"
        if not isinstance(mount, dict) or not mount.get("name"):
            raise ApiError(400, f"{at}.name is required")
        path = mount.get("mountPath")
        if not isinstance(path, str) or not path:
            raise ApiError(400, f"{at}.mountPath is required")
        if "{{" not in path:
            problem = mount_path_problem(path)
            if problem:
                raise unsupported(f"{at}.mountPath", problem)
        if mount.get("subPathExpr"):
            raise unsupported(f"{at}.subPathExpr")
        sub = mount.get("subPath")
        if sub and "{{" not in str(sub):
            problem = sub_path_problem(str(sub))
            if problem:
                raise ApiError(400, f"{at}.subPath: {problem}")


def _check_volumes(volumes: Any, where: str) -> None:
    """Volume kinds that map to this machine (see volumes.py); the rest are refused."""
    for j, vol in enumerate(volumes or []):
        at = f"{where}[{j}]"
        if not isinstance(vol, dict) or not vol.get("name"):
            raise ApiError(400, f"{at}.name is required")
        if not CLAIM_NAME.match(str(vol["name"])):
            raise ApiError(400, f"{at}.name {vol['name']!r} is not a valid name")
        kinds = [k for k in vol if k != "name"]
        kind = next((k for k in kinds if k in KINDS), None)
        if kind is None:
            other = kinds[0] if kinds else "source"
            raise unsupported(
                f"{at}.{other}", "only emptyDir, persistentVolumeClaim, secret and configMap"
            )
        body = vol[kind] or {}
        if kind == "emptyDir":
            if body.get("medium") not in (None, "", "Memory"):
                raise unsupported(f"{at}.emptyDir.medium", f"medium {body['medium']}")
            if body.get("sizeLimit") is not None:
                try:
                    parse_quantity(body["sizeLimit"])
                except VolumeError as exc:
                    raise ApiError(400, f"{at}.emptyDir: {exc}") from exc
        name_field = {"persistentVolumeClaim": "claimName", "secret": "secretName"}.get(
            kind, "name"
        )
        ref = str(body.get(name_field, ""))
        if kind != "emptyDir" and "{{" not in ref and not CLAIM_NAME.match(ref):
            raise ApiError(400, f"{at}.{kind}.{name_field} {ref!r} is not a valid name")


def _check_artifact(art: dict[str, Any], where: str, pod: bool, mounts: list[str]) -> None:
    for kind in REMOTE_ARTIFACTS:
        if kind in art:
            raise unsupported(f"{where}.{kind}", "only http, raw and artifacts of other steps")
    if "fromExpression" in art:
        raise unsupported(f"{where}.fromExpression")
    if "zip" in (art.get("archive") or {}):
        raise unsupported(f"{where}.archive.zip")
    path = art.get("path")
    if pod and path and "{{" not in path and not reachable(path, mounts):
        raise unsupported(
            f"{where}.path",
            f"{path} is outside /tmp and the template's volume mounts; "
            "steps get a private /tmp and their volumes",
        )


def _check_expressions(obj: Any, where: str) -> None:
    if isinstance(obj, str):
        for _, _, inner in find_tags(obj):
            if inner.startswith("="):
                try:
                    check_expr(inner[1:])
                except ExpressionError as exc:
                    raise unsupported(where, f"expression {inner[1:].strip()!r}: {exc}") from exc
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _check_expressions(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_expressions(v, f"{where}[{i}]")
