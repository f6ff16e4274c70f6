"""Structural validation of Argo manifests at upload time.

What a user gets wrong in a hand-written or compiled manifest, told with the place (path and
line): YAML syntax, alias bombs, kind/apiVersion, unknown fields (the Kubernetes API server
prunes them silently, so a typo such as `entrypint` would vanish), field types (Hera's pydantic
models of Argo's API), a missing entrypoint, references to templates that do not exist, DAG
dependencies on tasks that do not exist, and dependency cycles.

Argo v4 is the target. Legacy v3 fields are migrated, each with a note kept on the version:
CronWorkflow `spec.schedule` -> `spec.schedules: [..]`, and `synchronization.semaphore` /
`synchronization.mutex` (workflow or template level) -> the lists `semaphores` / `mutexes`.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, RootModel, ValidationError

from apps.pipelines.importers import PipelineImportError, Problems
from ydpipelines.cron_lines import ScheduleError, validate_cron
from ydpipelines.dag import find_cycle
from ydpipelines.localargo.expressions import ExpressionError, task_dependencies

API_VERSION = "argoproj.io/v1alpha1"
KINDS = ("Workflow", "WorkflowTemplate", "CronWorkflow")
MAX_YAML_NODES = 200_000  # after alias expansion; real manifests have a few thousand
MAX_PROBLEMS_SHOWN = 6
# Set by the cluster, meaningless in an upload.
_SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
)


@dataclass
class Document:
    data: Any
    node: yaml.Node | None = None  # for line numbers

    def line(self, path: list[str | int]) -> int | None:
        """The 1-based line of the deepest node on `path` that exists."""
        node = self.node
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in path:
            child = None
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == part:
                        child = value
                        line = key.start_mark.line + 1
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
                line = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return line


@dataclass
class Checked:
    """A validated manifest, migrated to Argo v4."""

    manifest: dict[str, Any]
    kind: str  # the uploaded kind
    notes: list[str] = field(default_factory=list)
    cron: dict[str, Any] | None = None  # a CronWorkflow's schedule settings


# -- YAML --------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader; documents are composed first so that alias expansion can be measured."""


# Deeper than any manifest needs; the checks that walk a document recurse.
MAX_DEPTH = 200


def _check_depth(value: Any, source: str) -> None:
    """Refuse a document nested deeper than MAX_DEPTH (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PipelineImportError(f"{source}: nested more than {MAX_DEPTH} levels deep.")
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, (dict, list)):
            stack.extend((child, depth + 1) for child in children)


def load_documents(source: str, text: str) -> list[Document]:
    """Every non-empty document of a YAML (or JSON) stream. Raises PipelineImportError."""
    if source.lower().endswith(".json"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PipelineImportError(
                f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from exc
        except RecursionError as exc:
            raise PipelineImportError(f"{source}: JSON nested too deeply.") from exc
        _check_depth(doc, source)
        return [Document(doc)]
    loader = _Loader(text)
    docs: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            _check_expansion(node, source)
            data = loader.construct_document(node)
            if data is not None:
                docs.append(Document(data, node))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        raise PipelineImportError(f"{source} is not valid YAML: {problem}{where}.") from exc
    except yaml.YAMLError as exc:
        raise PipelineImportError(f"{source} is not valid YAML: {exc}.") from exc
    except RecursionError as exc:
        raise PipelineImportError(f"{source}: YAML nested too deeply.") from exc
    finally:
        loader.dispose()
    return docs


def _check_expansion(root: yaml.Node, source: str) -> None:
    """Refuse a document whose aliases expand to more than MAX_YAML_NODES nodes (a "billion
    laughs" bomb is a few lines that expand exponentially) or that refer to themselves."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise PipelineImportError(
                f"{source}: an alias refers to itself (line {node.start_mark.line + 1})."
            )
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child)
                if total > MAX_YAML_NODES:
                    break
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
                if total > MAX_YAML_NODES:
                    break
        active.discard(key)
        if total > MAX_YAML_NODES:
            raise PipelineImportError(
                f"{source}: the YAML aliases expand to more than {MAX_YAML_NODES} nodes "
                f"(near line {node.start_mark.line + 1}); refused as a YAML bomb."
            )
        sizes[key] = total
        return total

    size(root)


# -- manifests ---------------------------------------------------------------------------------


class _Problems(Problems):
    shown_at_most = MAX_PROBLEMS_SHOWN

    def __init__(self, source: str, doc: Document) -> None:
        super().__init__(source)
        self.doc = doc
        self.unknown: list[str] = []  # fields this app's model of Argo does not know

    def add(self, path: list[str | int], message: str) -> None:
        line = self.doc.line(path)
        where = _dotted(path) or "document"
        text = f"{where}: {message}" + (f" (line {line})" if line else "")
        self.add_text(text)


def validate_manifest(source: str, doc: Document) -> Checked:
    """Check one document, migrate legacy v3 fields, and return the manifest to store: the
    document itself for a Workflow or WorkflowTemplate; for a CronWorkflow, a Workflow made of
    its workflowSpec, with the schedule settings returned beside it."""
    data = doc.data
    problems = _Problems(source, doc)
    if not isinstance(data, dict):
        raise PipelineImportError(f"{source}: expected a mapping (an Argo manifest) at the top.")
    kind = data.get("kind")
    if kind not in KINDS:
        raise PipelineImportError(
            f"{source}: kind {kind!r} is not supported; upload a Workflow, WorkflowTemplate or "
            "CronWorkflow."
        )
    api = data.get("apiVersion")
    if api != API_VERSION:
        problems.add(["apiVersion"], f"expected {API_VERSION!r}, got {api!r}")
    manifest = json.loads(json.dumps(data))  # a plain, independent copy
    notes: list[str] = []
    meta = manifest.get("metadata")
    if meta is None:
        meta = manifest["metadata"] = {}
    if not isinstance(meta, dict):
        problems.add(["metadata"], "must be a mapping")
        problems.raise_if_any()
    manifest.pop("status", None)
    for key in _SERVER_METADATA:
        meta.pop(key, None)
    spec = manifest.get("spec")
    if not isinstance(spec, dict):
        problems.add(["spec"], "missing or not a mapping")
        problems.raise_if_any()

    base: list[str | int] = ["spec"]
    if kind == "CronWorkflow":
        _migrate_cron(spec, notes)
        _check_schedules(spec, problems)
        base = ["spec", "workflowSpec"]
        if not isinstance(spec.get("workflowSpec"), dict):
            problems.add(base, "missing or not a mapping")
            problems.raise_if_any()
        wf_spec = spec["workflowSpec"]
    else:
        wf_spec = spec
    _migrate_synchronization(wf_spec, _dotted(base), notes)

    _check_fields(kind, manifest, problems)
    _check_types(kind, manifest, problems)
    _check_structure(kind, wf_spec, base, problems)
    problems.raise_if_any()
    if problems.unknown:
        notes.append(
            "Fields kept as uploaded, not checked by this app (newer than its Argo model): "
            + ", ".join(problems.unknown[:10])
        )

    if kind != "CronWorkflow":
        return Checked(manifest=manifest, kind=kind, notes=notes)
    name = str(meta.get("name") or meta.get("generateName") or "cron").rstrip("-")
    cron = {k: v for k, v in spec.items() if k not in ("workflowSpec", "workflowMetadata")}
    cron["name"] = name
    wf_meta: dict[str, Any] = {"generateName": f"{name}-"}
    extra_meta = spec.get("workflowMetadata") or {}
    for key in ("labels", "annotations"):
        if extra_meta.get(key):
            wf_meta[key] = extra_meta[key]
    workflow = {"apiVersion": API_VERSION, "kind": "Workflow", "metadata": wf_meta, "spec": wf_spec}
    notes.append(
        "CronWorkflow imported as the Workflow it starts; its schedule "
        f"({', '.join(cron.get('schedules') or [])}) is kept in the version's metadata."
    )
    return Checked(manifest=workflow, kind=kind, notes=notes, cron=cron)


def _migrate_cron(spec: dict[str, Any], notes: list[str]) -> None:
    if "schedule" not in spec:
        return
    legacy = spec.pop("schedule")
    schedules = list(spec.get("schedules") or [])
    if isinstance(legacy, str) and legacy.strip() and legacy not in schedules:
        schedules.append(legacy.strip())
    spec["schedules"] = schedules
    notes.append(
        f"Argo v3 field spec.schedule ({legacy!r}) migrated to the v4 list spec.schedules."
    )


# Argo (robfig/cron) also takes these descriptors; the recurring-run form asks for the fields.
_CRON_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def _check_schedules(spec: dict[str, Any], problems: _Problems) -> None:
    """Every cron line of a CronWorkflow passes the recurring-run form's check (cron_lines), and
    its timezone exists: a schedule that can never fire is refused naming its field."""
    schedules = spec.get("schedules")
    if not isinstance(schedules, list) or not schedules:
        problems.add(["spec", "schedules"], "a CronWorkflow needs at least one cron line")
        return
    for index, line in enumerate(schedules):
        if not isinstance(line, str):
            problems.add(["spec", "schedules", index], f"expected a cron line, got {line!r}")
            continue
        try:
            validate_cron(_CRON_MACROS.get(line.strip(), line))
        except ScheduleError as exc:
            problems.add(["spec", "schedules", index], str(exc))
    zone = spec.get("timezone")
    if zone:
        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError):
            problems.add(["spec", "timezone"], f"{zone!r} is not a known time zone")


def _migrate_synchronization(wf_spec: dict[str, Any], base: str, notes: list[str]) -> None:
    places: list[tuple[str, Any]] = [(f"{base}.synchronization", wf_spec.get("synchronization"))]
    for index, template in enumerate(wf_spec.get("templates") or []):
        if isinstance(template, dict):
            places.append(
                (f"{base}.templates[{index}].synchronization", template.get("synchronization"))
            )
    for where, sync in places:
        if not isinstance(sync, dict):
            continue
        for old, new in (("semaphore", "semaphores"), ("mutex", "mutexes")):
            if old not in sync:
                continue
            value = sync.pop(old)
            items = list(sync.get(new) or [])
            if value and value not in items:
                items.append(value)
            sync[new] = items
            notes.append(f"Argo v3 field {where}.{old} migrated to the v4 list {where}.{new}.")


# -- fields and types, through Hera's models of the Argo API ------------------------------------


def _model_for(kind: str) -> type[BaseModel]:
    from hera.workflows import models

    return {
        "Workflow": models.Workflow,
        "WorkflowTemplate": models.WorkflowTemplate,
        "CronWorkflow": models.CronWorkflow,
    }[kind]


def _check_fields(kind: str, manifest: dict[str, Any], problems: _Problems) -> None:
    _walk_fields(_model_for(kind), manifest, [], problems)


def _walk_fields(
    model: type[BaseModel], data: Any, path: list[str | int], problems: _Problems
) -> None:
    if not isinstance(data, dict) or issubclass(model, RootModel) or not model.model_fields:
        return  # free-form objects (plugin templates) have no fields to check
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    for key, value in data.items():
        info = fields.get(key)
        if info is None:
            # A near miss of a known field is a typo that the API server would drop silently.
            # Anything else may be newer than Hera's model of Argo (e.g. v4's podResources):
            # kept, with a note.
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.8)
            if close:
                problems.add([*path, key], f"unknown field (did you mean {close[0]!r}?)")
            else:
                problems.unknown.append(_dotted([*path, key]))
            continue
        _walk_value(info.annotation, value, [*path, key], problems)


def _walk_value(annotation: Any, value: Any, path: list[str | int], problems: _Problems) -> None:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        _walk_value(typing.get_args(annotation)[0], value, path, problems)
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and isinstance(value, dict):
                _walk_value(arg, value, path, problems)
                return
            if typing.get_origin(arg) in (list, dict) and isinstance(value, (list, dict)):
                _walk_value(arg, value, path, problems)
                return
    elif origin is list and isinstance(value, list):
        (item,) = typing.get_args(annotation) or (Any,)
        for index, element in enumerate(value):
            _walk_value(item, element, [*path, index], problems)
    elif origin is dict and isinstance(value, dict):
        args = typing.get_args(annotation)
        if len(args) == 2:
            for key, element in value.items():
                _walk_value(args[1], element, [*path, key], problems)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        _walk_fields(annotation, value, path, problems)


def _check_types(kind: str, manifest: dict[str, Any], problems: _Problems) -> None:
    try:
        _model_for(kind).model_validate(manifest)
    except ValidationError as exc:
        for error in exc.errors():
            path = [p for p in error.get("loc", ()) if not _is_union_tag(p)]
            value = error.get("input")
            if error.get("type") == "string_type" and isinstance(value, (int, float)):
                if _QUANTITY_KEYS.intersection(str(p) for p in path):
                    continue  # a quantity written as a number (cpu: 1) is fine
                problems.add(path, f"must be a string: write {str(value)!r} in quotes")
                continue
            problems.add(path, error.get("msg", "invalid value"))


# Kubernetes quantities (resources, volume sizes) may be written as YAML numbers.
_QUANTITY_KEYS = {"limits", "requests", "sizeLimit", "storage", "capacity"}


def _is_union_tag(part: Any) -> bool:
    # pydantic adds the tried union member's type to the location, e.g. "function-after[...]".
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool"))


# -- structure: entrypoint, templates, DAGs -----------------------------------------------------


def _check_structure(
    kind: str, wf_spec: dict[str, Any], base: list[str | int], problems: _Problems
) -> None:
    templates = wf_spec.get("templates") or []
    if not isinstance(templates, list):
        problems.add([*base, "templates"], "must be a list")
        return
    names: dict[str, int] = {}
    for index, template in enumerate(templates):
        if not isinstance(template, dict):
            continue
        name = template.get("name")
        if not name:
            problems.add([*base, "templates", index], "template has no name")
        elif name in names:
            problems.add(
                [*base, "templates", index, "name"], f"template name {name!r} is used twice"
            )
        else:
            names[name] = index
    by_ref = bool(wf_spec.get("workflowTemplateRef"))
    entry = wf_spec.get("entrypoint")
    if entry:
        if not by_ref and entry not in names and "{{" not in str(entry):
            problems.add([*base, "entrypoint"], f"template {entry!r} does not exist{_known(names)}")
    elif kind != "WorkflowTemplate" and not by_ref:
        problems.add([*base, "entrypoint"], "missing: name the template the workflow starts with")
    on_exit = wf_spec.get("onExit")
    if on_exit and not by_ref and on_exit not in names and "{{" not in str(on_exit):
        problems.add([*base, "onExit"], f"template {on_exit!r} does not exist{_known(names)}")
    if by_ref:
        return  # the templates live in the referenced WorkflowTemplate
    declared = (
        None
        if kind == "WorkflowTemplate"
        else {
            p.get("name")
            for p in ((wf_spec.get("arguments") or {}).get("parameters") or [])
            if isinstance(p, dict)
        }
    )
    for index, template in enumerate(templates):
        if not isinstance(template, dict):
            continue
        where = [*base, "templates", index]
        _check_parameter_refs(template, where, declared, problems)
        if isinstance(template.get("dag"), dict):
            _check_dag(template["dag"], [*where, "dag"], names, problems)
        if isinstance(template.get("steps"), list):
            for g, group in enumerate(template["steps"]):
                for s, step in enumerate(group if isinstance(group, list) else []):
                    _check_ref(step, [*where, "steps", g, s], names, problems)


_WORKFLOW_PARAM = re.compile(r"\{\{\s*workflow\.parameters\.([-\w.]+?)\s*\}\}")
_INPUT_PARAM = re.compile(r"\{\{\s*inputs\.parameters\.([-\w]+)\s*\}\}")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _check_parameter_refs(
    template: dict[str, Any],
    path: list[str | int],
    declared: set[Any] | None,
    problems: _Problems,
) -> None:
    """`{{workflow.parameters.x}}` needs x among spec.arguments.parameters (`json` is all of
    them), and `{{inputs.parameters.x}}` needs x among the template's inputs: Argo refuses both
    at submit. A WorkflowTemplate may leave workflow parameters to whoever submits it
    (`declared` is None then)."""
    inputs = {
        p.get("name")
        for p in ((template.get("inputs") or {}).get("parameters") or [])
        if isinstance(p, dict)
    }
    for text in _strings(template):
        for name in _WORKFLOW_PARAM.findall(text):
            if declared is not None and name not in declared and name != "json":
                problems.add(
                    path,
                    f"uses {{{{workflow.parameters.{name}}}}}, not declared in "
                    "spec.arguments.parameters",
                )
        for name in _INPUT_PARAM.findall(text):
            if name not in inputs:
                problems.add(
                    path, f"uses {{{{inputs.parameters.{name}}}}}, not declared in its inputs"
                )


def _check_ref(
    item: Any, path: list[str | int], names: dict[str, int], problems: _Problems
) -> None:
    if not isinstance(item, dict) or item.get("templateRef") or item.get("inline"):
        return
    target = item.get("template")
    if not target:
        problems.add(path, "names no template (template, templateRef or inline)")
    elif target not in names and "{{" not in str(target):
        problems.add([*path, "template"], f"template {target!r} does not exist{_known(names)}")


def _check_dag(
    dag: dict[str, Any], path: list[str | int], names: dict[str, int], problems: _Problems
) -> None:
    tasks = dag.get("tasks") or []
    if not isinstance(tasks, list):
        return
    index_of: dict[str, int] = {}
    for index, task in enumerate(tasks):
        if isinstance(task, dict) and task.get("name"):
            if task["name"] in index_of:
                problems.add(
                    [*path, "tasks", index, "name"], f"task name {task['name']!r} is used twice"
                )
            index_of.setdefault(task["name"], index)
    edges: dict[str, list[str]] = {}
    for index, task in enumerate(tasks):
        if not isinstance(task, dict):
            continue
        where = [*path, "tasks", index]
        _check_ref(task, where, names, problems)
        key = "depends" if task.get("depends") else "dependencies"
        try:
            ups = task_dependencies(task)
        except ExpressionError as exc:
            problems.add([*where, key], str(exc))
            ups = []
        for up in ups:
            if up not in index_of:
                problems.add([*where, key], f"task {up!r} does not exist in this DAG")
        edges[str(task.get("name"))] = [u for u in ups if u in index_of]
    target = dag.get("target")
    if isinstance(target, str):
        for name in re.split(r"[\s,]+", target.strip()):
            if name and name not in index_of and "{{" not in name:
                problems.add([*path, "target"], f"task {name!r} does not exist in this DAG")
    cycle = find_cycle(edges)
    if cycle:
        problems.add([*path, "tasks"], f"the task dependencies form a cycle: {' -> '.join(cycle)}")


def _known(names: dict[str, int]) -> str:
    if not names:
        return ""
    shown = ", ".join(list(names)[:8])
    return f" (templates: {shown}{', ...' if len(names) > 8 else ''})"


def _dotted(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
