"""The workflow controller: one reconciliation pass (``Operation``) walks a workflow's templates
against ``status.nodes`` and moves it forward, as Argo's operator does.

A pass is idempotent and reads everything it needs from the stored status, so after a restart
the same pass resumes a workflow where it stood. Pod nodes are started through the executor;
their exit comes back as a callback that records the outcome and queues another pass.
"""

from __future__ import annotations

import copy
import heapq
import json
import re
import time
from typing import TYPE_CHECKING, Any

from . import ids
from .dagpass import DagState
from .expressions import (
    ExpressionError,
    eval_depends,
    eval_expr,
    eval_when,
    task_dependencies,
    to_str,
)
from .nodes import DONE, FAILED, done, now_iso, parse_iso
from .template_defaults import with_defaults
from .templating import Scope, item_values

if TYPE_CHECKING:
    from .engine import Engine

LOST = "step process lost when the engine stopped"
SCHEDULED_ANNOTATION = "workflows.argoproj.io/scheduled-time"
ABSENT = ("Skipped", "Omitted")
# a reference, left after substitution, to an output parameter of a task or step
ABSENT_REF = re.compile(r"\{\{\s*((?:tasks|steps)\.[^.}\s]+\.outputs\.parameters\.[^}\s]+)\s*\}\}")
DEPENDS_FAIL_OK = (".Failed", ".Errored", ".Completed", ".AnySucceeded", ".AllFailed")


class StepError(Exception):
    """A template cannot be started (missing input, bad expression...): the node errors."""


# the message Argo gives a Steps/DAG node with `failFast: true` once a child failed
FINISHED_VALUES_KEPT = 200_000  # finished nodes whose scope entries the engine keeps
TEMPLATE_FAIL_FAST = "template has failed or errored children and failFast enabled"


def template_kind(tmpl: dict[str, Any]) -> str:
    for kind in ("container", "script", "dag", "steps", "suspend"):
        if kind in tmpl:
            return kind
    return "unknown"


def parse_duration(text: Any) -> float:
    """Go-style durations (``10s``, ``1m30s``, ``2h``) or plain seconds."""
    s = str(text).strip()
    try:
        return float(s)
    except ValueError:
        pass
    total, num = 0.0, ""
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}
    i = 0
    while i < len(s):
        c = s[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        unit = s[i : i + 2] if s[i : i + 2] in units else c
        if unit not in units or not num:
            raise ValueError(f"invalid duration {text!r}")
        total += float(num) * units[unit]
        num = ""
        i += len(unit)
    if num:
        raise ValueError(f"invalid duration {text!r}")
    return total


def expand_items(holder: dict[str, Any], scope: Scope) -> list[Any] | None:
    """The items of withItems/withParam/withSequence, or None when the task does not loop."""
    if "withItems" in holder:
        return scope.substitute(holder["withItems"])
    if "withParam" in holder:
        raw = scope.render(holder["withParam"]) if isinstance(holder["withParam"], str) else None
        try:
            items = json.loads(raw) if raw is not None else holder["withParam"]
        except ValueError as exc:
            raise StepError(f"withParam value could not be parsed as a JSON list: {raw}") from exc
        if not isinstance(items, list):
            raise StepError(f"withParam value is not a JSON list: {raw}")
        return items
    if "withSequence" in holder:
        seq = scope.substitute(holder["withSequence"])
        try:
            start = int(seq.get("start", 0))
            if "count" in seq:
                count = int(seq["count"])
                end = start + count - 1
                values = list(range(start, end + 1))
            else:
                end = int(seq.get("end", 0))
                step = 1 if end >= start else -1
                values = list(range(start, end + step, step))
        except (TypeError, ValueError) as exc:
            raise StepError(f"withSequence {seq} is not numeric") from exc
        fmt = seq.get("format")
        out = []
        for v in values:
            out.append(_go_format(fmt, v) if fmt else str(v))
        return out
    return None


def _go_format(fmt: str, value: int) -> str:
    try:
        return (
            fmt.replace("%d", "{}").replace("%02d", "{:02d}").format(value) if fmt else str(value)
        )
    except (ValueError, IndexError):
        return str(value)


def item_label(item: Any) -> str:
    if isinstance(item, dict):
        return ",".join(f"{k}:{to_str(v)}" for k, v in sorted(item.items()))
    return to_str(item)


class Operation:
    """One reconciliation pass over one workflow; call ``run()`` under the engine lock."""

    def __init__(self, engine: Engine, wf: dict[str, Any]) -> None:
        self.e = engine
        self.wf = wf
        self.meta = wf["metadata"]
        self.spec = wf["spec"]
        self.name = self.meta["name"]
        self.ns = self.meta.get("namespace", "default")
        self.status = wf.setdefault("status", {})
        self.nodes: dict[str, dict[str, Any]] = self.status.setdefault("nodes", {})
        self.now = time.time()
        self.wake: float | None = None  # earliest time a later pass is needed
        self.retry_deadlines: dict[str, float] = {}  # attempt node id -> maxDuration end
        self.setup_error = ""  # why the workflow cannot start (Argo marks it Error)
        # running pods, in all and per boundary: counted once here, kept up to date by run_pod,
        # so a pass over N pending pods costs O(N), not O(N^2) (10,000-step loops)
        self.active_pods = 0
        self.running_in: dict[str, int] = {}
        # pods that exist and have not ended (Pending or Running), for Argo's parallelism
        # check before a node is created: kept up to date by init_node and finish
        self.live_pods = 0
        self.live_in: dict[str, int] = {}
        for n in self.nodes.values():
            if n.get("type") != "Pod" or done(n):
                continue
            bid = n.get("boundaryID", "")
            self.live_pods += 1
            self.live_in[bid] = self.live_in.get(bid, 0) + 1
            if n["phase"] == "Running":
                self.active_pods += 1
                self.running_in[bid] = self.running_in.get(bid, 0) + 1
        self.boundary_limits: dict[str, int | None] = {}  # boundary id -> template parallelism
        self._child_sets: dict[str, set[str]] = {}
        self.globals = self._globals()
        # the scope of the task or step being executed (its dependencies' outputs)
        self.caller_scope: Scope | None = None
        # what earlier passes learnt of each running DAG (dagpass.py), by DAG node id
        self.dag_states = engine.dag_states(self.ns, self.name, self.nodes)

    # -- bookkeeping -------------------------------------------------------------------

    def wake_at(self, when: float) -> None:
        if self.wake is None or when < self.wake:
            self.wake = when

    def node(self, name: str) -> dict[str, Any] | None:
        return self.nodes.get(ids.node_id(self.name, name))

    def init_node(
        self,
        name: str,
        kind: str,
        tmpl: dict[str, Any] | None,
        boundary: str,
        display: str,
        phase: str = "Running",
        message: str = "",
    ) -> dict[str, Any]:
        nid = ids.node_id(self.name, name)
        node: dict[str, Any] = {
            "id": nid,
            "name": name,
            "displayName": display,
            "type": kind,
            "templateName": (tmpl or {}).get("name", ""),
            "templateScope": "local/" + self.name,
            "phase": phase,
            "startedAt": now_iso(self.now),
        }
        if boundary:
            node["boundaryID"] = boundary
        if message:
            node["message"] = message
        if phase in DONE:
            node["finishedAt"] = node["startedAt"]
        elif kind == "Pod":
            self._count_live(node, 1)
        self.nodes[nid] = node
        return node

    def _count_live(self, node: dict[str, Any], delta: int) -> None:
        bid = node.get("boundaryID", "")
        self.live_pods += delta
        self.live_in[bid] = self.live_in.get(bid, 0) + delta

    def finish(self, node: dict[str, Any], phase: str, message: str | None = None) -> None:
        if node["type"] == "Pod" and not done(node) and phase in DONE:
            self._count_live(node, -1)
        node["phase"] = phase
        if message:
            node["message"] = message
        elif phase == "Succeeded":
            node.pop("message", None)
        node.setdefault("finishedAt", now_iso(self.now))
        if not node.get("finishedAt"):
            node["finishedAt"] = now_iso(self.now)
        self._release_node(node)

    def link(self, parent_name: str, child_id: str) -> None:
        parent = self.node(parent_name)
        if parent is not None:
            self.add_child(parent, child_id)

    def add_child(self, parent: dict[str, Any], child_id: str) -> None:
        """Append ``child_id`` to ``parent``'s children once (a set per parent and pass keeps
        this O(1) for groups of thousands)."""
        children = parent.setdefault("children", [])
        known = self._child_sets.get(parent["id"])
        if known is None or len(known) != len(children):
            known = self._child_sets[parent["id"]] = set(children)
        if child_id not in known:
            children.append(child_id)
            known.add(child_id)

    def outbound(self, nid: str) -> list[str]:
        node = self.nodes.get(nid)
        if node is None:
            return []
        kind = node["type"]
        if kind in ("Pod", "Skipped", "Suspend"):
            return [nid]
        if kind == "Retry":
            return [node["children"][-1]] if node.get("children") else [nid]
        if kind == "TaskGroup" and not node.get("children"):
            return [nid]
        if kind == "TaskGroup":
            out = []
            for child in node["children"]:
                out.extend(self.outbound(child))
            return out
        out = []
        for o in node.get("outboundNodes", []):
            out.extend(self.outbound(o))
        return out or [nid]

    def pod_deadlines(self, node: dict[str, Any], tmpl: dict[str, Any]) -> dict[str, float]:
        """When a pod node must end: the template's ``timeout`` counts from the node's start
        (Pending included), a retry's ``backoff.maxDuration`` from its first attempt."""
        ends = {}
        if tmpl.get("timeout"):
            started = parse_iso(node.get("startedAt")) or self.now
            ends["timeout"] = started + parse_duration(tmpl["timeout"])
        if node["id"] in self.retry_deadlines:
            ends["maxDuration"] = self.retry_deadlines[node["id"]]
        return ends

    def _pending_timeout(self, node: dict[str, Any], tmpl: dict[str, Any]) -> None:
        """Argo's checkTemplateTimeout: a node still Pending past its timeout fails."""
        if not tmpl.get("timeout") or node["phase"] != "Pending":
            return
        try:
            end = self.pod_deadlines(node, tmpl)["timeout"]
        except ValueError as exc:
            self.finish(node, "Error", f"invalid timeout format. {exc}")
            return
        if self.now >= end:
            self.finish(node, "Failed", "timeout")
        else:
            self.wake_at(end)

    # -- scopes --------------------------------------------------------------------

    def _globals(self) -> Scope:
        meta, spec = self.meta, self.spec
        values: dict[str, Any] = {
            "workflow.name": self.name,
            "workflow.namespace": self.ns,
            "workflow.uid": meta.get("uid", ""),
            "workflow.serviceAccountName": spec.get("serviceAccountName", "default"),
            "workflow.creationTimestamp": meta.get("creationTimestamp", ""),
            "workflow.mainEntrypoint": spec.get("entrypoint", ""),
            "workflow.priority": str(spec.get("priority", 0)),
            "workflow.duration": str(
                max(0.0, self.now - (parse_iso(self.status.get("startedAt")) or self.now))
            ),
        }
        params = spec.get("arguments", {}).get("parameters", [])
        # Argo: both are json.Marshal of spec.arguments.parameters (a list, Go field order)
        listed = json.dumps([_go_param(p) for p in params], separators=(",", ":"))
        values["workflow.parameters"] = values["workflow.parameters.json"] = listed
        for p in params:
            try:
                values[f"workflow.parameters.{p['name']}"] = self._global_param(p)
            except StepError as exc:
                self.setup_error = self.setup_error or str(exc)
        for k, v in (meta.get("labels") or {}).items():
            values[f"workflow.labels.{k}"] = v
        for k, v in (meta.get("annotations") or {}).items():
            values[f"workflow.annotations.{k}"] = v
        # Argo: json.Marshal of the maps, for jsonpath() in expressions
        values["workflow.labels.json"] = json.dumps(meta.get("labels") or {}, sort_keys=True)
        values["workflow.annotations.json"] = json.dumps(
            meta.get("annotations") or {}, sort_keys=True
        )
        scheduled = (meta.get("annotations") or {}).get(SCHEDULED_ANNOTATION)
        if scheduled:  # set by the cron scheduler, as Argo's cron controller does
            values["workflow.scheduledTime"] = scheduled
        for p in self.status.get("outputs", {}).get("parameters", []):
            values[f"workflow.outputs.parameters.{p['name']}"] = p.get("value", "")
        for a in self.status.get("outputs", {}).get("artifacts", []):
            values[f"workflow.outputs.artifacts.{a['name']}"] = json.dumps(a)
        return Scope(values)

    def _global_param(self, p: dict[str, Any]) -> str:
        """A workflow argument's value; ``valueFrom.configMapKeyRef`` reads the engine's
        configMap folder (PUT /api/v1/... configmaps), as Argo reads the ConfigMap."""
        ref = (p.get("valueFrom") or {}).get("configMapKeyRef")
        if not ref:
            return to_str(p.get("value", ""))
        value = self.e.configmap_value(self.ns, ref.get("name", ""), ref.get("key", ""))
        if value is not None:
            return value
        default = (p.get("valueFrom") or {}).get("default")
        if default is not None:
            return to_str(default)
        if ref.get("optional"):
            return ""
        raise StepError(
            f"failed to set global parameter {p['name']} from configmap with name "
            f"{ref.get('name', '')} and key {ref.get('key', '')}: "
            f'configmaps "{ref.get("name", "")}" not found'
        )

    def template_scope(self, inputs: dict[str, Any], tmpl: dict[str, Any]) -> Scope:
        values: dict[str, Any] = {}
        for p in inputs.get("parameters", []):
            values[f"inputs.parameters.{p['name']}"] = p.get("value", "")
        values["inputs.parameters"] = json.dumps(inputs.get("parameters", []))
        for a in inputs.get("artifacts", []):
            values[f"inputs.artifacts.{a['name']}"] = json.dumps(a)
            if a.get("path"):
                values[f"inputs.artifacts.{a['name']}.path"] = a["path"]
        outputs = tmpl.get("outputs", {})
        for p in outputs.get("parameters", []):
            path = (p.get("valueFrom") or {}).get("path")
            if path:
                values[f"outputs.parameters.{p['name']}.path"] = path
        for a in outputs.get("artifacts", []):
            if a.get("path"):
                values[f"outputs.artifacts.{a['name']}.path"] = a["path"]
        return self.globals.child(values)

    def finished_values(self, prefix: str, node: dict[str, Any]) -> dict[str, Any]:
        """``node_values`` of a finished node, kept between passes while the node is the same
        object with the same phase, end and outputs (a retry changes them): a pass over a DAG
        reads every finished task's, and making them again cost O(tasks) a pass."""
        cache = self.e.finished_values
        key = f"{prefix}@{node['id']}"
        hit = cache.get(key)
        outputs = node.get("outputs")
        if (
            hit is not None
            and hit[0] is node
            and hit[1] == node["phase"]
            and hit[2] == node.get("finishedAt")
            and hit[3] is outputs
        ):
            return hit[4]
        values = self.node_values(prefix, node)
        if len(cache) >= FINISHED_VALUES_KEPT:
            cache.clear()
        cache[key] = (node, node["phase"], node.get("finishedAt"), outputs, values)
        return values

    def node_values(self, prefix: str, node: dict[str, Any]) -> dict[str, Any]:
        """Scope entries for a finished task/step: ``tasks.X.outputs...``, status, exitCode."""
        values: dict[str, Any] = {
            f"{prefix}.id": node["id"],
            f"{prefix}.status": node["phase"],
            f"{prefix}.startedAt": node.get("startedAt", ""),
            f"{prefix}.finishedAt": node.get("finishedAt", ""),
            f"{prefix}.ip": "127.0.0.1",
        }
        if node["type"] == "TaskGroup" or node.get("_group"):
            return {**values, **self._group_values(prefix, node)}
        if node["phase"] in ABSENT:
            return {**values, **self._absent_defaults(prefix, node)}
        outputs = node.get("outputs") or {}
        if "exitCode" in outputs:
            values[f"{prefix}.exitCode"] = outputs["exitCode"]
        if "result" in outputs:
            values[f"{prefix}.outputs.result"] = outputs["result"]
        for p in outputs.get("parameters", []):
            if "value" in p:
                values[f"{prefix}.outputs.parameters.{p['name']}"] = p["value"]
        for a in outputs.get("artifacts", []):
            values[f"{prefix}.outputs.artifacts.{a['name']}"] = json.dumps(a)
        return values

    def _absent_defaults(self, prefix: str, node: dict[str, Any]) -> dict[str, Any]:
        """A skipped or omitted task produced nothing; Argo still resolves a reference to one
        of its output parameters that declares ``valueFrom.default``."""
        try:
            tmpl = self.resolve({"template": node.get("templateName", "")})
        except StepError:
            return {}
        values = {}
        for p in (tmpl.get("outputs") or {}).get("parameters", []) or []:
            vf = p.get("valueFrom") or {}
            if "default" in vf:
                values[f"{prefix}.outputs.parameters.{p['name']}"] = to_str(vf["default"])
        return values

    def absent_references(
        self, arguments: dict[str, Any], base: str, task: dict[str, Any]
    ) -> dict[str, Any]:
        """Argo's rule for references left to outputs of a skipped/omitted task: an argument
        that is only such a reference is dropped (the input's default applies); one that
        embeds it is an error ("absent optional")."""
        params = []
        for p in arguments.get("parameters", []) or []:
            value = p.get("value")
            refs = ABSENT_REF.findall(value) if isinstance(value, str) else []
            absent = [r for r in refs if self._is_absent(base, r)]
            if absent and ABSENT_REF.fullmatch(value.strip()) and self._has_default(task, p):
                continue
            self.absent_in(f"arguments.parameters.{p['name']}", value, base)
            params.append(p)
        for a in arguments.get("artifacts", []) or []:
            for field, value in a.items():  # an artifact has no input default to fall back on
                self.absent_in(f"arguments.artifacts.{a.get('name', '')}.{field}", value, base)
        return {**arguments, "parameters": params} if "parameters" in arguments else arguments

    def absent_in(self, where: str, text: Any, base: str) -> None:
        """A field (an argument, ``when``, ``withParam``) that still names an output of a
        skipped or omitted task (one without ``valueFrom.default``) can never resolve: Argo
        errors it terminally ("absent optional") instead of waiting for it."""
        refs = ABSENT_REF.findall(text) if isinstance(text, str) else []
        absent = [r for r in refs if self._is_absent(base, r)]
        if absent:
            raise StepError(
                f"{where}: {{{{{absent[0]}}}}} refers to an absent optional output of a "
                "skipped or omitted task"
            )

    def _has_default(self, task: dict[str, Any], param: dict[str, Any]) -> bool:
        try:
            tmpl = self.resolve(task)
        except StepError:
            return False
        for p in (tmpl.get("inputs") or {}).get("parameters", []) or []:
            if p["name"] == param["name"]:
                return "value" in p or "default" in p
        return False

    def _is_absent(self, base: str, ref: str) -> bool:
        kind, name = ref.split(".")[:2]
        if kind == "tasks":
            node = self.node(f"{base}.{name}")
        else:  # steps.X: the step of an earlier group of the same Steps node
            steps = base.rsplit("[", 1)[0] if base.endswith("]") else base
            node = next(
                (
                    n
                    for n in self.nodes.values()
                    if n["name"].startswith(f"{steps}[") and n["name"].endswith(f"].{name}")
                ),
                None,
            )
        return node is not None and node["phase"] in ABSENT

    def _group_values(self, prefix: str, group: dict[str, Any]) -> dict[str, Any]:
        """Argo's processAggregateNodeOutputs: the outputs of the iterations that succeeded
        (a Retry iteration carries its successful attempt's), as JSON lists, in Go's compact
        form: ``X.outputs.parameters`` (one object an iteration), ``X.outputs.parameters.P``
        (P's values: objects when every value is a JSON object, else strings) and
        ``X.outputs.result``."""
        params, results = [], []
        by_name: dict[str, list[str]] = {}
        for cid in group.get("children", []):
            child = self.nodes.get(cid)
            if child is None or child["phase"] != "Succeeded":
                continue
            outputs = child.get("outputs") or {}
            if outputs.get("parameters"):
                params.append({p["name"]: p.get("value", "") for p in outputs["parameters"]})
                for p in outputs["parameters"]:
                    by_name.setdefault(p["name"], []).append(p.get("value", ""))
            if "result" in outputs:
                results.append(outputs["result"])
        values: dict[str, Any] = {f"{prefix}.outputs.parameters": _go_json(params)}
        for pname, listed in by_name.items():
            values[f"{prefix}.outputs.parameters.{pname}"] = _go_json(_objects_or_strings(listed))
        if results:
            parsed = []
            for r in results:
                try:
                    parsed.append(json.loads(r))
                except ValueError:
                    parsed.append(r)
            values[f"{prefix}.outputs.result"] = json.dumps(parsed)
        return values

    # -- the pass ------------------------------------------------------------------

    def run(self) -> None:
        st = self.status
        if st.get("phase") in ("Succeeded", "Failed", "Error"):
            return
        if not st.get("phase") or (st["phase"] == "Pending" and not st.get("startedAt")):
            st["phase"] = "Running"
            st["startedAt"] = now_iso(self.now)
            self.globals = self._globals()
            if not self.setup_error:
                self.setup_error = self._workflow_metadata()
            problem = claim_problem(self.name, self.spec)
            if problem and not self.setup_error:  # Argo creates the claims first, and errors
                self.setup_error = f"pvc create error: {problem}"  # the workflow if it cannot
        if self.setup_error:
            st["phase"], st["message"] = "Error", self.setup_error
            st["finishedAt"] = now_iso(self.now)
            return
        sync = self.spec.get("synchronization")
        if sync and not self.e.sync.acquire(self, sync, holder=self._wf_key(), node=None):
            st["phase"] = "Pending"
            st["message"] = self.e.sync.waiting_message(self, sync)
            return
        if sync and st.get("phase") == "Pending":
            st["phase"] = "Running"
            st.pop("message", None)
        shutdown = self.spec.get("shutdown")
        deadline = self.spec.get("activeDeadlineSeconds")
        started = parse_iso(st.get("startedAt")) or self.now
        if deadline is not None and not shutdown:
            limit = started + float(deadline)
            if self.now >= limit:
                self.spec["shutdown"] = shutdown = "Deadline"
            else:
                self.wake_at(limit)
        if shutdown:
            self._shutdown(shutdown)
        elif self.spec.get("suspend"):
            return  # Argo: a suspended workflow creates no node until it is resumed
        entry = {"template": self.spec.get("entrypoint"), "arguments": self.spec.get("arguments")}
        if self.spec.get("workflowTemplateRef") and not self.spec.get("templates"):
            entry["template"] = self.spec.get("entrypoint")
        if not shutdown:
            self._lifecycle_hooks(st.get("phase") or "Running")
        root = self.execute(self.name, entry, self.globals, "", self.name)
        if root is None or not done(root):
            return
        if shutdown != "Terminate":  # a hook may wait for the final status ("Succeeded")
            final = self._status_values(root)["workflow.status"]
            if not self._lifecycle_hooks(final if not shutdown else "Failed"):
                return
        exit_tmpl = self.spec.get("onExit") or (self.spec.get("hooks") or {}).get("exit", {}).get(
            "template"
        )
        exit_node = None
        if exit_tmpl and shutdown != "Terminate":
            for key, value in self._status_values(root).items():
                self.globals.set(key, value)  # visible to every template of the handler
            scope = self.globals
            # hooks.exit may pass arguments, rendered once the workflow's status is known
            hook = (self.spec.get("hooks") or {}).get("exit") or {}
            args = (
                scope.substitute(hook.get("arguments") or {}) if not self.spec.get("onExit") else {}
            )
            holder = {"template": exit_tmpl, "arguments": args}
            exit_node = self.execute(
                f"{self.name}.onExit", holder, scope, "", f"{self.name}.onExit"
            )
            if exit_node is None or not done(exit_node):
                return
        self._complete(root, exit_node, shutdown)

    def _lifecycle_hooks(self, status: str) -> bool:
        """Workflow-level lifecycle hooks (every hook but `exit`): each runs at most once, as
        a node `<workflow>.hooks.<name>`, as soon as its expression holds with
        ``workflow.status`` = status, alongside the workflow's steps. True once every hook
        that started has ended: the workflow completes after them. A hook's own failure does
        not change the workflow's phase."""
        settled = True
        for hname, hook in (self.spec.get("hooks") or {}).items():
            if hname == "exit":
                continue
            name = f"{self.name}.hooks.{hname}"
            node = self.node(name)
            if node is None:
                scope = self.globals.child({"workflow.status": status})
                try:
                    fire = eval_expr(hook.get("expression", ""), scope.nested()) is True
                except ExpressionError:
                    fire = False  # Argo logs it and does not run the hook
                if not fire:
                    continue
                holder = {k: hook[k] for k in ("template", "templateRef") if hook.get(k)}
                holder["arguments"] = scope.substitute(hook.get("arguments") or {})
                node = self.execute(name, holder, scope, "", name)
            if node is None or not done(node):
                settled = False
        return settled

    def _workflow_metadata(self) -> str:
        """Argo's first pass copies spec.workflowMetadata onto the workflow's own metadata
        (labelsFrom are expressions over the global variables); the error, if any."""
        md = self.spec.get("workflowMetadata") or {}
        labels = self.meta.setdefault("labels", {})
        annotations = self.meta.setdefault("annotations", {})
        for k, v in (md.get("labels") or {}).items():
            labels[k] = str(v)
            self.globals.set(f"workflow.labels.{k}", str(v))
        for k, v in (md.get("annotations") or {}).items():
            annotations[k] = str(v)
            self.globals.set(f"workflow.annotations.{k}", str(v))
        for k, source in (md.get("labelsFrom") or {}).items():
            expression = (source or {}).get("expression", "")
            try:
                value = eval_expr(expression, self.globals.nested())
            except (ExpressionError, KeyError, IndexError, TypeError, ValueError) as exc:
                return f"failed to evaluate label {k!r} expression {expression!r}: {exc}"
            if not isinstance(value, str):
                return f"label {k!r} expression {expression!r} must return a string, got {value}"
            labels[k] = value
            self.globals.set(f"workflow.labels.{k}", value)
        if not annotations:
            self.meta.pop("annotations")
        return ""

    def _status_values(self, root: dict[str, Any]) -> dict[str, Any]:
        failures = [
            {
                "displayName": n["displayName"],
                "message": n.get("message", ""),
                "templateName": n.get("templateName", ""),
                "phase": n["phase"],
                "podName": ids.pod_name(self.name, n["name"], n.get("templateName", "")),
                "finishedAt": n.get("finishedAt", ""),
            }
            for n in self.nodes.values()
            if n["type"] == "Pod" and n["phase"] in FAILED
        ]
        return {
            "workflow.status": root["phase"] if root["phase"] in FAILED else "Succeeded",
            "workflow.failures": json.dumps(failures),
        }

    def _complete(
        self, root: dict[str, Any], exit_node: dict[str, Any] | None, shutdown: str | None
    ) -> None:
        st = self.status
        phase = root["phase"] if root["phase"] in FAILED else "Succeeded"
        message = root.get("message", "") if phase != "Succeeded" else ""
        if exit_node is not None and exit_node["phase"] in FAILED and phase == "Succeeded":
            phase, message = exit_node["phase"], exit_node.get("message", "")
        if shutdown == "Deadline":
            phase, message = "Failed", "Max duration limit exceeded"
        elif shutdown in ("Stop", "Terminate"):
            phase, message = "Failed", f"Stopped with strategy '{shutdown}'"
        st["phase"] = phase
        if message:
            st["message"] = message
        else:
            st.pop("message", None)
        st["finishedAt"] = now_iso(self.now)
        if "outputs" in root and root.get("outputs") and not st.get("outputs"):
            pass
        self.e.sync.release_all(self, self._wf_key())

    def _wf_key(self) -> str:
        return f"{self.ns}/{self.name}"

    def _shutdown(self, how: str) -> None:
        reason = {
            "Deadline": "Max duration limit exceeded",
            "Stop": "workflow shutdown with strategy:  Stop",
            "Terminate": "workflow shutdown with strategy:  Terminate",
        }[how]
        for node in self.nodes.values():
            if node["phase"] in DONE:
                continue
            if how != "Terminate" and ".onExit" in node["name"]:
                continue
            if node["type"] == "Pod":
                self.e.kill_step(self.ns, self.name, node["id"], reason)
                self.finish(node, "Failed", reason)
            elif node["type"] in ("Suspend",):
                self.finish(node, "Failed", reason)

    # -- templates -----------------------------------------------------------------

    def resolve(self, holder: dict[str, Any]) -> dict[str, Any]:
        """The template a task/step names, with spec.templateDefaults merged in (Argo)."""
        defaults = self.spec.get("templateDefaults") or (
            self.status.get("storedWorkflowTemplateSpec") or {}
        ).get("templateDefaults")
        return with_defaults(self._find_template(holder), defaults)

    def _find_template(self, holder: dict[str, Any]) -> dict[str, Any]:
        if holder.get("inline"):
            tmpl = copy.deepcopy(holder["inline"])
            tmpl.setdefault("name", "")
            return tmpl
        if holder.get("templateRef"):
            ref = holder["templateRef"]
            return self.e.template_from_ref(self.ns, ref)
        name = holder.get("template")
        stored = self.status.get("storedWorkflowTemplateSpec") or {}
        for t in [*self.spec.get("templates", []), *stored.get("templates", [])]:
            if t.get("name") == name:
                return _copy_template(t)
        raise StepError(f"template {name!r} not found")

    def inputs(self, tmpl: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        declared = tmpl.get("inputs") or {}
        given_params = {p["name"]: p for p in (args or {}).get("parameters", []) or []}
        params = []
        for p in declared.get("parameters", []) or []:
            name = p["name"]
            arg = given_params.get(name, {})
            if "value" in arg:
                value = to_str(arg["value"])
            elif "value" in p or "default" in p:
                # a template's own value may use the globals and the inputs declared before it
                known = {f"inputs.parameters.{q['name']}": q["value"] for q in params}
                value = self.globals.child(known).render(to_str(p.get("value", p.get("default"))))
            else:
                raise StepError(f"inputs.parameters.{name} was not supplied")
            if p.get("enum") and value not in [to_str(v) for v in p["enum"]]:
                raise StepError(
                    f"value {value!r} of inputs.parameters.{name} is not one of {p['enum']}"
                )
            out = {"name": name, "value": value}
            params.append(out)
        given_arts = {a["name"]: a for a in (args or {}).get("artifacts", []) or []}
        arts = []
        for a in declared.get("artifacts", []) or []:
            name = a["name"]
            merged = {**a, **given_arts.get(name, {})}
            merged["path"] = a.get("path", merged.get("path"))
            source = merged.pop("from", None)
            if source:
                try:
                    ref = json.loads(source)
                except ValueError:
                    if a.get("optional") or merged.get("optional"):
                        continue
                    raise StepError(
                        f"inputs.artifacts.{name}: unable to resolve {source}"
                    ) from None
                for k in ("s3", "raw", "http", "key"):
                    if k in ref:
                        merged[k] = ref[k]
                if ref.get("archive") and "archive" not in a:
                    merged["archive"] = ref["archive"]
            if not any(k in merged for k in ("s3", "raw", "http")):
                if merged.get("optional"):
                    continue
                raise StepError(f"inputs.artifacts.{name} was not supplied")
            arts.append(merged)
        result: dict[str, Any] = {}
        if params:
            result["parameters"] = params
        if arts:
            result["artifacts"] = arts
        return result

    def execute(
        self,
        name: str,
        holder: dict[str, Any],
        scope: Scope,
        boundary: str,
        display: str,
    ) -> dict[str, Any] | None:
        outer, self.caller_scope = self.caller_scope, scope
        try:
            return self._execute(name, holder, scope, boundary, display)
        finally:
            self.caller_scope = outer

    def workflow_volumes(self, pod_scope: Scope) -> list[dict[str, Any]]:
        """``spec.volumes`` as a pod sees them: Argo substitutes them with the scope of the
        task or step that runs the pod (its dependencies' outputs, a skipped producer's
        ``valueFrom.default``), then with the pod's own."""
        volumes = self.spec.get("volumes") or []
        if self.caller_scope is not None:
            volumes = self.caller_scope.substitute(volumes)
        return pod_scope.substitute(volumes)

    def _execute(
        self,
        name: str,
        holder: dict[str, Any],
        scope: Scope,
        boundary: str,
        display: str,
    ) -> dict[str, Any] | None:
        node = self.node(name)
        if done(node):
            return node
        if node is not None and node["type"] == "Pod" and self.e.no_free_slot(self, node):
            return node  # nothing can start: skip resolving its template again
        try:
            tmpl = self.resolve(holder)
            inputs = self.inputs(tmpl, holder.get("arguments") or {})
            local = self.template_scope(inputs, tmpl)
            if inputs.get("artifacts"):  # e.g. an http url made of parameters, as Argo does
                inputs["artifacts"] = local.substitute(inputs["artifacts"])
            body = {k: v for k, v in tmpl.items() if k not in ("dag", "steps")}
            tmpl = {**local.substitute(body), **{k: tmpl[k] for k in ("dag", "steps") if k in tmpl}}
        except (StepError, ExpressionError) as exc:
            if node is None:
                node = self.init_node(name, "Pod", holder, boundary, display)
            self.finish(node, "Error", str(exc))
            return node
        if tmpl.get("retryStrategy") is None and self.spec.get("retryStrategy") is not None:
            tmpl["retryStrategy"] = self.spec["retryStrategy"]  # Argo: the workflow's default
        retry = tmpl.get("retryStrategy")
        if retry is not None:  # `retryStrategy: {}` retries until the step succeeds
            pod = template_kind(tmpl) in ("container", "script")
            if node is None and pod and self._parallelism_reached(boundary):
                return None
            if node is None:
                node = self.init_node(name, "Retry", tmpl, boundary, display)
                if inputs:
                    node["inputs"] = inputs
            return self.run_retry(node, tmpl, local, boundary, display, inputs)
        return self.attempt(name, node, tmpl, local, boundary, display, inputs)

    def run_retry(
        self,
        node: dict[str, Any],
        tmpl: dict[str, Any],
        local: Scope,
        boundary: str,
        display: str,
        inputs: dict[str, Any],
    ) -> dict[str, Any]:
        retry = tmpl["retryStrategy"] or {}
        children = node.setdefault("children", [])
        n = len(children)
        max_end = self._max_duration_end(retry, children)
        if n:
            last = self.nodes[children[-1]]
            if max_end is not None and n > 1:
                self.retry_deadlines[last["id"]] = max_end  # the pod's deadline (Argo)
            if not done(last):
                scope = local.child({"retries": str(n - 1)})
                self.attempt(last["name"], last, tmpl, scope, boundary, last["displayName"], inputs)
                last = self.nodes[children[-1]]
                if not done(last):
                    return node
            if last["phase"] in ("Succeeded", "Skipped"):
                node["outputs"] = last.get("outputs", {})
                if not node["outputs"]:
                    node.pop("outputs")
                self.finish(node, last["phase"])
                return node
            wait = self._backoff(retry, n)
            ready = (parse_iso(last.get("finishedAt")) or self.now) + wait
            verdict = None
            if max_end is not None and self.now > max_end:
                verdict = "Max duration limit exceeded"
            elif max_end is not None and ready > max_end:
                verdict = "Backoff would exceed max duration limit"
            verdict = verdict or self._retry_verdict(retry, last, n)
            if verdict:
                if last.get("outputs"):
                    node["outputs"] = last["outputs"]
                self.finish(node, last["phase"], verdict)
                return node
            if self.now < ready:
                node["message"] = f"Backoff for {wait:g} seconds"
                self.wake_at(ready)
                return node
            node.pop("message", None)
        name = f"{node['name']}({n})"
        if max_end is not None:
            self.retry_deadlines[ids.node_id(self.name, name)] = max_end
        scope = local.child({"retries": str(n)})
        child = self.attempt(
            name, self.node(name), tmpl, scope, boundary, f"{display}({n})", inputs
        )
        if child is None:
            return node  # waiting for a parallelism slot
        if child["id"] not in children:
            children.append(child["id"])
        if done(child):
            return self.run_retry(node, tmpl, local, boundary, display, inputs)
        return node

    def _retry_verdict(self, retry: dict[str, Any], last: dict[str, Any], n: int) -> str | None:
        """Why no further attempt is made, or None to retry."""
        limit = retry.get("limit")
        if limit is not None and n > int(limit):
            return f"No more retries left: {last.get('message', '')}".rstrip(": ")
        lost = last.get("message") == LOST
        policy = retry.get("retryPolicy") or "OnFailure"
        if not lost:
            if policy == "OnFailure" and last["phase"] == "Error":
                return last.get("message") or "Error"
            if policy in ("OnError", "OnTransientError") and last["phase"] == "Failed":
                return last.get("message") or "Failed"
        expression = retry.get("expression")
        if expression:
            outputs = last.get("outputs") or {}
            started = parse_iso(last.get("startedAt")) or self.now
            env = {
                "lastRetry": {
                    "exitCode": outputs.get("exitCode", "-1"),
                    "status": last["phase"],
                    "duration": str((parse_iso(last.get("finishedAt")) or self.now) - started),
                    "message": last.get("message", ""),
                }
            }
            try:
                if not eval_expr(expression, env):
                    return f"retryStrategy.expression evaluated to false: {expression}"
            except ExpressionError as exc:
                return f"retryStrategy.expression failed: {exc}"
        return None

    def _max_duration_end(self, retry: dict[str, Any], children: list[str]) -> float | None:
        """Argo's backoff.maxDuration counts from the first attempt's start."""
        limit = (retry.get("backoff") or {}).get("maxDuration")
        first = self.nodes.get(children[0]) if children else None
        if not limit or first is None:
            return None
        return (parse_iso(first.get("startedAt")) or self.now) + parse_duration(limit)

    def _backoff(self, retry: dict[str, Any], n: int) -> float:
        backoff = retry.get("backoff")
        if not backoff or not backoff.get("duration"):
            return 0.0
        wait = parse_duration(backoff["duration"]) * float(backoff.get("factor", 1) or 1) ** (n - 1)
        if backoff.get("cap"):
            wait = min(wait, parse_duration(backoff["cap"]))
        return wait

    def attempt(
        self,
        name: str,
        node: dict[str, Any] | None,
        tmpl: dict[str, Any],
        scope: Scope,
        boundary: str,
        display: str,
        inputs: dict[str, Any],
    ) -> dict[str, Any] | None:
        if done(node):
            return node
        kind = template_kind(tmpl)
        node_type = {
            "container": "Pod",
            "script": "Pod",
            "dag": "DAG",
            "steps": "Steps",
            "suspend": "Suspend",
        }.get(kind, "Pod")
        if node is None:
            if node_type == "Pod" and self._parallelism_reached(boundary):
                return None  # Argo creates no node until the pod may be created
            phase = "Pending" if node_type == "Pod" else "Running"
            node = self.init_node(name, node_type, tmpl, boundary, display, phase=phase)
            if inputs:
                node["inputs"] = inputs
        if kind == "unknown":
            self.finish(node, "Error", f"template {tmpl.get('name')!r} has no runnable body")
            return node
        deadline = tmpl.get("activeDeadlineSeconds")
        if deadline is not None and node_type != "Pod":
            limit = (parse_iso(node.get("startedAt")) or self.now) + float(deadline)
            if self.now >= limit:
                self._fail_subtree(node, "Step exceeded its deadline")
                self.finish(node, "Failed", "Step exceeded its deadline")
                return node
            self.wake_at(limit)
        sync = tmpl.get("synchronization")
        if sync and not self.e.sync.acquire(self, sync, holder=node["id"], node=node):
            node["message"] = self.e.sync.waiting_message(self, sync)
            self._pending_timeout(node, tmpl)
            return node
        if kind in ("container", "script"):
            self.e.run_pod(self, node, tmpl, scope)
        elif kind == "dag":
            self.run_dag(node, tmpl, scope)
        elif kind == "steps":
            self.run_steps(node, tmpl, scope)
        elif kind == "suspend":
            self.run_suspend(node, tmpl)
        if done(node) and kind in ("dag", "steps") and node["phase"] == "Succeeded":
            self._template_outputs(node, tmpl, scope)
        if done(node):
            self._global_outputs(node, tmpl)
        return node

    def _parallelism_reached(self, boundary: str) -> bool:
        """Argo's checkParallelism: workflow and template limits count the pods that exist
        and have not finished (Pending or Running)."""
        par = self.spec.get("parallelism")
        if par is not None and self.live_pods >= int(par):
            return True
        limit = self.e.boundary_parallelism(self, boundary)
        # counted, not scanned: a scan per new node made a pass over a 10,000-item loop
        # quadratic (tens of seconds under the engine's lock, every other workflow waiting)
        return limit is not None and self.live_in.get(boundary, 0) >= limit

    def _fail_subtree(self, node: dict[str, Any], reason: str) -> None:
        for other in self.nodes.values():
            if other["phase"] in DONE:
                continue
            b, seen = other.get("boundaryID"), 0
            while b and b != node["id"] and seen < 50:
                b = self.nodes.get(b, {}).get("boundaryID")
                seen += 1
            if b == node["id"]:
                if other["type"] == "Pod":
                    self.e.kill_step(self.ns, self.name, other["id"], reason)
                self.finish(other, "Failed", reason)

    def _release_node(self, node: dict[str, Any]) -> None:
        if node.get("synchronizationStatus") or self.e.sync.holds(node["id"]):
            self.e.sync.release_all(self, node["id"])

    def _template_outputs(self, node: dict[str, Any], tmpl: dict[str, Any], scope: Scope) -> None:
        declared = tmpl.get("outputs") or {}
        if not declared:
            return
        values = self._inner_values(node)
        if node["type"] == "Steps":  # loops of steps aggregate by step group, as in run_steps
            for i, group in enumerate(tmpl.get("steps") or []):
                sg = self.node(f"{node['name']}[{i}]")
                if sg is not None:
                    values.update(self._group_step_values(sg, group))
        inner = scope.child(values)
        params, arts = [], []
        for p in declared.get("parameters", []) or []:
            vf = p.get("valueFrom") or {}
            value = None
            if "parameter" in vf:
                rendered = inner.render(vf["parameter"])
                value = None if "{{" in rendered else rendered
            elif "expression" in vf:
                try:
                    value = to_str(eval_expr(vf["expression"], inner.nested()))
                except ExpressionError:
                    value = None
            elif "value" in p:
                value = to_str(p["value"])
            if value is None and "default" in vf:
                value = to_str(vf["default"])
            if value is None:
                self.finish(node, "Error", f"unable to resolve outputs.parameters.{p['name']}")
                return
            params.append({**p, "value": value})
        for a in declared.get("artifacts", []) or []:
            src = a.get("from")
            rendered = inner.render(src) if src else ""
            try:
                ref = json.loads(rendered)
            except ValueError:
                if a.get("optional"):
                    continue
                self.finish(node, "Error", f"unable to resolve outputs.artifacts.{a['name']}")
                return
            arts.append({**{k: v for k, v in ref.items() if k != "name"}, "name": a["name"]})
        outputs: dict[str, Any] = {}
        if params:
            outputs["parameters"] = params
        if arts:
            outputs["artifacts"] = arts
        if outputs:
            node["outputs"] = outputs

    def _global_outputs(self, node: dict[str, Any], tmpl: dict[str, Any]) -> None:
        outputs = node.get("outputs") or {}
        glob = self.status.setdefault("outputs", {})
        for p in outputs.get("parameters", []):
            if p.get("globalName") and "value" in p:
                _upsert(glob.setdefault("parameters", []), p["globalName"], p["value"])
                self.globals.set(f"workflow.outputs.parameters.{p['globalName']}", p["value"])
        for a in outputs.get("artifacts", []):
            if a.get("globalName"):
                arts = glob.setdefault("artifacts", [])
                entry = {**a, "name": a["globalName"]}
                arts[:] = [x for x in arts if x["name"] != entry["name"]] + [entry]
                self.globals.set(f"workflow.outputs.artifacts.{a['globalName']}", json.dumps(entry))
        if not glob:
            self.status.pop("outputs", None)

    def _inner_values(self, node: dict[str, Any]) -> dict[str, Any]:
        """tasks.* / steps.* values of the finished children inside a DAG/Steps node."""
        values: dict[str, Any] = {}
        prefix = "tasks" if node["type"] == "DAG" else "steps"
        for other in self.nodes.values():
            if other.get("boundaryID") != node["id"] or not done(other):
                continue
            if other["type"] == "StepGroup":
                continue
            short = other["displayName"]
            if "(" in short and other["type"] != "TaskGroup":
                continue  # loop children are reached through their group
            values.update(self.node_values(f"{prefix}.{short}", other))
        return values

    # -- suspend ---------------------------------------------------------------------

    def run_suspend(self, node: dict[str, Any], tmpl: dict[str, Any]) -> None:
        duration = (tmpl.get("suspend") or {}).get("duration")
        if duration:
            until = (parse_iso(node.get("startedAt")) or self.now) + parse_duration(duration)
            if self.now >= until:
                self._suspend_outputs(node, tmpl)
                self.finish(node, "Succeeded")
            else:
                self.wake_at(until)

    def _suspend_outputs(self, node: dict[str, Any], tmpl: dict[str, Any]) -> None:
        params = []
        for p in (tmpl.get("outputs") or {}).get("parameters", []) or []:
            vf = p.get("valueFrom") or {}
            value = p.get("value", vf.get("default"))
            if value is not None:
                params.append({"name": p["name"], "value": to_str(value)})
        if params:
            node["outputs"] = {"parameters": params}

    def resume(self) -> int:
        count = 0
        for node in self.nodes.values():
            if node["type"] == "Suspend" and node["phase"] == "Running":
                try:
                    tmpl = self.resolve({"template": node["templateName"]})
                except StepError:
                    tmpl = {}
                self._suspend_outputs(node, tmpl)
                self.finish(node, "Succeeded")
                count += 1
        return count

    # -- DAG -------------------------------------------------------------------------

    def run_dag(self, node: dict[str, Any], tmpl: dict[str, Any], scope: Scope) -> None:
        dag = tmpl["dag"]
        plan = dag_plan(dag.get("tasks") or [])
        tasks, deps, order, leaves = plan
        base = node["name"]

        def task_node(task: str) -> dict[str, Any] | None:
            return self.node(f"{base}.{task}")

        # what earlier passes found (dagpass.py): the pass visits the running and waiting
        # tasks and those whose dependencies all completed, not every task of the DAG
        state = self.dag_states.get(node["id"])
        fresh = state is None or state.busy or state.plan is not plan
        if fresh:
            state = self.dag_states[node["id"]] = DagState.empty(plan)
        assert state is not None
        state.busy = True
        outputs = state.outputs
        gathered = state.gathered
        settled = state.settled
        shared: dict[str, Any] | None = None

        # each visited task's node, looked up once a pass and again only after the task ran
        # in it (a task's node is made and changed only by running that task)
        now_of = {t: task_node(t) for t in (tasks if fresh else state.active | state.ready)}

        def complete(task: str) -> bool:
            if task in settled:
                return True
            if not done(now_of.get(task)):  # a dependency not in the DAG never completes
                return False
            return not self._has_exit(tasks[task]) or done(self.node(f"{base}.{task}.onExit"))

        # the outputs of the finished tasks (a task's scope), kept from pass to pass and added
        # to as tasks end: rebuilding them for every task made a pass O(tasks^2). Tasks read a
        # copy made again only after a task ended, layered over the DAG's scope.
        def gather(task: str, look: bool = True) -> None:
            nonlocal shared
            tn = now_of[task] = task_node(task) if look else now_of[task]
            if task not in gathered and done(tn):
                gathered.add(task)
                outputs.update(self.finished_values(f"tasks.{task}", tn))  # type: ignore[arg-type]
                if tn["phase"] in FAILED:  # type: ignore[index]
                    state.failed.add(task)
                shared = None

        def task_scope() -> Scope:
            nonlocal shared
            if shared is None:
                shared = dict(outputs)
            return scope.layered(shared)

        for t in now_of:  # gather() without looking each node up again
            gather(t, look=False)
        if fresh:  # the first pass (or one after a change from outside): a full walk
            for t in order:
                if now_of[t] is not None:
                    state.created(t)
                    if complete(t):
                        state.settle(t)
            state.count_waiting()

        def unhandled(t: str) -> bool:
            return self._unhandled_failure(tasks, deps, t, now_of.get(t) or task_node(t))

        # template-level failFast (Argo's checkParallelism): no new task once one failed
        fail_fast = dag.get("failFast", True) or tmpl.get("failFast") is True
        failing = any(unhandled(t) for t in state.failed)
        running = 0
        # Dependencies first, as Argo's executeDAGTask recurses into them: a task listed
        # before its dependency must see that dependency finish in this same pass, or a
        # dependency that finishes without a pod callback (Retry, nested Steps/DAG) would
        # leave it waiting for a pass nobody queues. A task that completes frees its
        # dependents, visited later in this pass (they come after it in the order).
        position = state.position
        visit = [(position[t], t) for t in state.active | state.ready]
        heapq.heapify(visit)
        seen: set[str] = set()

        def settle(task: str) -> None:
            for freed in state.settle(task):
                now_of.setdefault(freed, None)
                heapq.heappush(visit, (position[freed], freed))

        while visit:
            _, name = heapq.heappop(visit)
            if name in seen or name in settled:
                continue
            seen.add(name)
            task = tasks[name]
            tn = now_of[name]
            if tn is not None and complete(name):
                settle(name)
                continue
            dscope = task_scope()
            # Argo's executeDAGTask: a task whose finished dependencies rule it out is Omitted
            # even while the DAG fails fast; failing fast only stops new tasks from starting
            omit = tn is None and not self._depends_ok(task, deps[name], base, tasks)
            if tn is None and not omit and failing and fail_fast:
                continue
            if omit:
                skipped = self.init_node(
                    f"{base}.{name}",
                    "Skipped",
                    {"name": task.get("template", "")},
                    node["id"],
                    name,
                    phase="Omitted",
                    message="omitted: depends condition not met",
                )
                self._connect(base, deps[name], skipped["id"])
                gather(name)
            else:
                tn = self._run_task(base, name, task, dscope, node["id"], deps[name])
                gather(name)
                if tn is not None and not done(tn):
                    running += 1
                elif tn is not None and done(tn) and self._has_exit(task):
                    self._run_exit(task, tn, dscope, node["id"])
                    if not done(self.node(f"{base}.{name}.onExit")):
                        running += 1
            if now_of[name] is not None:
                state.created(name)
                if complete(name):
                    settle(name)
        finished = len(settled) == len(tasks)
        failing = any(unhandled(t) for t in state.failed)
        state.busy = False
        if not finished and not (failing and fail_fast and running == 0):
            if any(not done(now_of.get(t)) for t in state.active):
                return
            if not failing or not fail_fast:
                return
        del self.dag_states[node["id"]]  # the DAG ends in this pass
        targets = (dag.get("target") or "").replace(",", " ").split() or leaves
        node["outboundNodes"] = [
            o
            for t in targets
            if task_node(t) is not None
            for o in self.outbound(task_node(t)["id"])
        ]
        for t in tasks:
            tn = task_node(t)
            if self._unhandled_failure(tasks, deps, t, tn):
                if tmpl.get("failFast") is True:
                    self.finish(node, "Failed", TEMPLATE_FAIL_FAST)
                else:
                    self.finish(node, tn["phase"], f"child '{tn['id']}' failed")  # type: ignore[index]
                return
        self.finish(node, "Succeeded")

    def _task_deps(self, task: dict[str, Any]) -> list[str]:
        return task_dependencies(task)

    def _has_exit(self, task: dict[str, Any]) -> bool:
        return bool(task.get("onExit") or (task.get("hooks") or {}).get("exit"))

    def _run_exit(
        self, task: dict[str, Any], tn: dict[str, Any], scope: Scope, boundary: str
    ) -> None:
        hook = (task.get("hooks") or {}).get("exit") or {"template": task.get("onExit")}
        name = f"{tn['name']}.onExit"
        values = {"status": tn["phase"], "workflow.status": self.status.get("phase", "Running")}
        exit_scope = scope.child(values)
        holder = {**hook, "arguments": exit_scope.substitute(hook.get("arguments") or {})}
        en = self.execute(name, holder, exit_scope, boundary, f"{tn['displayName']}.onExit")
        if en is not None:
            self.link(tn["name"], en["id"])

    def _unhandled_failure(
        self, tasks: dict[str, Any], deps: dict[str, list[str]], name: str, tn: dict | None
    ) -> bool:
        if tn is None or tn["phase"] not in FAILED:
            return False
        cont = tasks[name].get("continueOn") or {}
        if (tn["phase"] == "Failed" and cont.get("failed")) or (
            tn["phase"] == "Error" and cont.get("error")
        ):
            return False
        for other, t in tasks.items():
            expr = t.get("depends") or ""
            if name in deps[other] and any(f"{name}{s}" in expr for s in DEPENDS_FAIL_OK):
                return False
        return True

    def _depends_ok(
        self, task: dict[str, Any], deps: list[str], base: str, tasks: dict[str, Any]
    ) -> bool:
        def continues(dep: str, dn: dict[str, Any]) -> bool:
            return dn["phase"] in FAILED and _continue_on(tasks.get(dep, {}), dn["phase"])

        def phase_of(dep: str) -> dict[str, Any]:
            return self.node(f"{base}.{dep}") or {"phase": "Omitted", "type": "Skipped"}

        if not task.get("depends"):
            for dep in deps:
                dn = phase_of(dep)
                if dn["phase"] in FAILED and not continues(dep, dn):
                    return False
                if dn["phase"] == "Omitted":
                    return False
            return True

        def resolve(operand: str) -> bool:
            dep, _, result = operand.partition(".")
            dn = phase_of(dep)
            phase = dn["phase"]
            if not result:
                return phase in ("Succeeded", "Skipped") or continues(dep, dn)
            children = [self.nodes[c] for c in dn.get("children", []) if c in self.nodes]
            checks = {
                "Succeeded": phase == "Succeeded",
                "Failed": phase == "Failed",
                "Errored": phase == "Error",
                "Skipped": phase == "Skipped",
                "Omitted": phase == "Omitted",
                "Completed": phase in ("Succeeded", "Failed"),
                "Daemoned": False,
                "AnySucceeded": any(c["phase"] == "Succeeded" for c in children),
                "AllFailed": bool(children) and all(c["phase"] in FAILED for c in children),
            }
            if result not in checks:
                raise ExpressionError(f"unknown task result {result!r} in depends")
            return checks[result]

        try:
            return eval_depends(task["depends"], resolve)
        except ExpressionError:
            return False

    def _connect(self, base: str, deps: list[str], child_id: str) -> None:
        if not deps:
            self.link(base, child_id)
            return
        for dep in deps:
            dn = self.node(f"{base}.{dep}")
            if dn is None:
                continue
            for out in self.outbound(dn["id"]):
                parent = self.nodes[out]
                self.add_child(parent, child_id)

    def _run_task(
        self,
        base: str,
        name: str,
        task: dict[str, Any],
        scope: Scope,
        boundary: str,
        deps: list[str],
    ) -> dict[str, Any] | None:
        node_name = f"{base}.{name}"
        existing = self.node(node_name)
        try:
            self.absent_in("withParam", _loop_param(task, scope), base)
            items = expand_items(task, scope)
        except StepError as exc:
            if existing is None:
                existing = self.init_node(node_name, "Skipped", task, boundary, name)
                self._connect(base, deps, existing["id"])
            self.finish(existing, "Error", str(exc))
            return existing
        if items is None:
            return self._run_one(node_name, name, task, scope, boundary, base, deps)
        if not items:
            if existing is None:
                existing = self._skip_empty(node_name, task, boundary, name)
                self._connect(base, deps, existing["id"])
            return existing
        group = existing or self.init_node(node_name, "TaskGroup", {"name": ""}, boundary, name)
        group["templateName"] = task.get("template", "")
        if existing is None:
            self._connect(base, deps, group["id"])
        for i, item in enumerate(items):
            child_name = f"{node_name}({i}:{item_label(item)})"
            iscope = scope.child(item_values(item))
            child = self._run_one(
                child_name, f"{name}({i}:{item_label(item)})", task, iscope, boundary, None, None
            )
            if child is not None:
                self.add_child(group, child["id"])
        children = [self.nodes[c] for c in group.get("children", [])]
        if all(done(c) for c in children):
            failed = [
                c for c in children if c["phase"] in FAILED and not _continue_on(task, c["phase"])
            ]
            if failed:
                self.finish(group, failed[0]["phase"], f"child '{failed[0]['id']}' failed")
            else:
                self.finish(group, "Succeeded")
        return group

    def _skip_empty(
        self, node_name: str, holder: dict[str, Any], boundary: str, display: str
    ) -> dict[str, Any]:
        """Argo: a loop whose withItems/withParam/withSequence expands to nothing is one
        Skipped node (not an empty group), and the DAG or steps go on."""
        return self.init_node(
            node_name,
            "Skipped",
            {"name": holder.get("template", "")},
            boundary,
            display,
            phase="Skipped",
            message="Skipped, empty params",
        )

    def _run_one(
        self,
        node_name: str,
        display: str,
        task: dict[str, Any],
        scope: Scope,
        boundary: str,
        base: str | None,
        deps: list[str] | None,
    ) -> dict[str, Any] | None:
        existing = self.node(node_name)
        if existing is None and task.get("when"):
            rendered = scope.render(task["when"])
            try:
                ok = eval_when(rendered) if "{{" not in rendered else None
            except ExpressionError as exc:
                node = self.init_node(node_name, "Skipped", task, boundary, display)
                self.finish(node, "Error", f"invalid 'when' expression {rendered!r}: {exc}")
                if base is not None:
                    self._connect(base, deps or [], node["id"])
                return node
            if ok is None:
                node = self.init_node(node_name, "Skipped", task, boundary, display)
                message = f"unresolved variables in when: {rendered!r}"
                try:
                    self.absent_in("when", rendered, node_name.rsplit(".", 1)[0])
                except StepError as exc:
                    message = str(exc)
                self.finish(node, "Error", message)
                if base is not None:
                    self._connect(base, deps or [], node["id"])
                return node
            if not ok:
                node = self.init_node(
                    node_name,
                    "Skipped",
                    {"name": task.get("template", "")},
                    boundary,
                    display,
                    phase="Skipped",
                    message=f"when '{rendered}' evaluated false",
                )
                if base is not None:
                    self._connect(base, deps or [], node["id"])
                return node
        if existing is None:
            try:
                arguments = scope.substitute(task.get("arguments") or {}, strict_expr=True)
                arguments = self.absent_references(arguments, node_name.rsplit(".", 1)[0], task)
            except (StepError, ExpressionError) as exc:
                node = self.init_node(node_name, "Pod", task, boundary, display)
                self.finish(node, "Error", str(exc))
                if base is not None:
                    self._connect(base, deps or [], node["id"])
                return node
        else:
            arguments = scope.substitute(task.get("arguments") or {})
        holder = {**task, "arguments": arguments}
        node = self.execute(node_name, holder, scope, boundary, display)
        if node is not None and existing is None and base is not None:
            self._connect(base, deps or [], node["id"])
        return node

    # -- steps -----------------------------------------------------------------------

    def run_steps(self, node: dict[str, Any], tmpl: dict[str, Any], scope: Scope) -> None:
        base = node["name"]
        sscope = scope
        groups = tmpl.get("steps") or []
        for i, group in enumerate(groups):
            sg_name = f"{base}[{i}]"
            sg = self.node(sg_name)
            if sg is None:
                sg = self.init_node(sg_name, "StepGroup", {"name": ""}, node["id"], f"[{i}]")
                sg["templateName"] = tmpl.get("name", "")
                if i == 0:
                    self.link(base, sg["id"])
                else:
                    prev = self.node(f"{base}[{i - 1}]")
                    if prev is not None and not prev.get("children"):
                        self.link(prev["name"], sg["id"])
                    elif prev is not None:
                        for cid in prev["children"]:
                            for out in self.outbound(cid):
                                kids = self.nodes[out].setdefault("children", [])
                                if sg["id"] not in kids:
                                    kids.append(sg["id"])
            if not done(sg):
                for step in group or []:
                    self._run_step(sg, step, sscope, node["id"])
                children = [self.nodes[c] for c in sg.get("children", [])]
                if not all(done(c) and self._step_exit_done(c) for c in children):
                    return
                failed = [
                    c
                    for c in children
                    if c["phase"] in FAILED
                    and not _continue_on(self._step_of(group, c), c["phase"])
                ]
                if failed:  # Argo: Failed, whether the child failed or errored
                    self.finish(sg, "Failed", f"child '{failed[0]['id']}' failed")
                else:
                    self.finish(sg, "Succeeded")
            if sg["phase"] in FAILED:
                node["outboundNodes"] = [
                    o for c in sg.get("children", []) for o in self.outbound(c)
                ]
                if tmpl.get("failFast") is True:  # Argo: once no pod of it is active
                    self.finish(node, "Failed", TEMPLATE_FAIL_FAST)
                else:
                    # Argo's executeSteps: a failed or errored step group fails the steps node
                    self.finish(node, "Failed", sg.get("message"))
                return
            sscope = sscope.child(self._group_step_values(sg, group))
        last = self.node(f"{base}[{len(groups) - 1}]") if groups else None
        if last is not None:
            node["outboundNodes"] = [o for c in last.get("children", []) for o in self.outbound(c)]
        self.finish(node, "Succeeded")

    def _step_of(self, group: list[dict[str, Any]], child: dict[str, Any]) -> dict[str, Any]:
        short = child["displayName"].split("(")[0]
        for step in group or []:
            if step["name"] == short:
                return step
        return {}

    def _step_exit_done(self, child: dict[str, Any]) -> bool:
        exit_node = self.node(f"{child['name']}.onExit")
        return exit_node is None or done(exit_node)

    def _group_step_values(self, sg: dict[str, Any], group: list[dict[str, Any]]) -> dict:
        values: dict[str, Any] = {}
        for step in group or []:
            prefix = f"steps.{step['name']}"
            single = self.node(f"{sg['name']}.{step['name']}")
            if single is not None:
                values.update(self.node_values(prefix, single))
                continue
            members = [
                self.nodes[c]
                for c in sg.get("children", [])
                if self.nodes[c]["displayName"].startswith(step["name"] + "(")
            ]
            pseudo = {"id": sg["id"], "phase": sg["phase"], "type": "TaskGroup", "children": []}
            pseudo["children"] = [m["id"] for m in members]
            values.update(self.node_values(prefix, pseudo))
        return values

    def _run_step(self, sg: dict[str, Any], step: dict[str, Any], scope: Scope, bid: str) -> None:
        name = f"{sg['name']}.{step['name']}"
        try:
            self.absent_in("withParam", _loop_param(step, scope), sg["name"])
            items = expand_items(step, scope)
        except StepError as exc:
            node = self.node(name) or self.init_node(name, "Skipped", step, bid, step["name"])
            self.finish(node, "Error", str(exc))
            self.link(sg["name"], node["id"])
            return
        if items == []:
            node = self.node(name) or self._skip_empty(name, step, bid, step["name"])
            self.link(sg["name"], node["id"])
            return
        runs = (
            [(name, step["name"], scope)]
            if items is None
            else [
                (
                    f"{name}({i}:{item_label(it)})",
                    f"{step['name']}({i}:{item_label(it)})",
                    scope.child(item_values(it)),
                )
                for i, it in enumerate(items)
            ]
        )
        for node_name, display, sc in runs:
            child = self._run_one(node_name, display, step, sc, bid, None, None)
            if child is None:
                continue
            self.link(sg["name"], child["id"])
            if done(child) and self._has_exit(step):
                self._run_exit(step, child, sc, bid)


ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")


def _copy_template(tmpl: dict[str, Any]) -> dict[str, Any]:
    """A copy the caller may change, sharing the ``dag``/``steps`` bodies with the spec: they
    are only read, and copying a 1,000-task DAG on every pass cost milliseconds a step."""
    return {k: v if k in ("dag", "steps") else copy.deepcopy(v) for k, v in tmpl.items()}


def claim_problem(wf_name: str, spec: dict[str, Any]) -> str | None:
    """Why Kubernetes would refuse one of the workflow's volumeClaimTemplates, in its words."""
    for vct in spec.get("volumeClaimTemplates") or []:
        claim = f"{wf_name}-{(vct.get('metadata') or {}).get('name', '')}"
        modes = (vct.get("spec") or {}).get("accessModes") or []
        where = f'PersistentVolumeClaim "{claim}" is invalid: spec.accessModes'
        if not modes:
            return f"{where}: Required value: at least 1 access mode is required"
        for mode in modes:
            if mode not in ACCESS_MODES:
                supported = ", ".join(f'"{m}"' for m in ACCESS_MODES)
                return f'{where}: Unsupported value: "{mode}": supported values: {supported}'
    return None


# A DAG's plan (tasks by name, what each waits for, the order to visit them), kept while its
# task list is the same object: specs are replaced, never changed in place, and parsing every
# `depends` again made each pass O(tasks) before anything ran. The entry holds the list, so
# its id cannot be reused by another list while cached.
Plan = tuple[dict[str, Any], dict[str, list[str]], list[str], list[str]]
_PLANS: dict[int, tuple[list[Any], Plan]] = {}
_PLANS_KEPT = 256


def dag_plan(task_list: list[dict[str, Any]]) -> Plan:
    """(tasks by name, their dependencies, the order to visit them, the tasks none depends on)."""
    hit = _PLANS.get(id(task_list))
    if hit is not None and hit[0] is task_list:
        return hit[1]
    tasks = {t["name"]: t for t in task_list}
    deps = {name: task_dependencies(t) for name, t in tasks.items()}
    depended = {d for names in deps.values() for d in names}
    plan = (tasks, deps, dependency_order(tasks, deps), [t for t in tasks if t not in depended])
    if len(_PLANS) >= _PLANS_KEPT:
        _PLANS.clear()
    _PLANS[id(task_list)] = (task_list, plan)
    return plan


def dependency_order(tasks: dict[str, Any], deps: dict[str, list[str]]) -> list[str]:
    """Task names with every task after the tasks it depends on, else in listed order."""
    order: list[str] = []
    placed: set[str] = set()

    def visit(name: str, path: frozenset[str]) -> None:
        if name in placed or name in path or name not in tasks:
            return  # a cycle is refused at create; never loop on one here
        for dep in deps.get(name, []):
            visit(dep, path | {name})
        placed.add(name)
        order.append(name)

    for name in tasks:
        visit(name, frozenset())
    return order


def _loop_param(holder: dict[str, Any], scope: Scope) -> str:
    """A task's or step's ``withParam`` text after substitution ("" when it has none)."""
    value = holder.get("withParam")
    return scope.render(value) if isinstance(value, str) else ""


def _go_json(value: Any) -> str:
    """json.Marshal's text: compact, map keys sorted."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _objects_or_strings(values: list[str]) -> list[Any]:
    """Argo's aggregatedJsonValueList: the values as JSON objects when every one is one,
    else as the strings they are."""
    parsed = []
    for value in values:
        try:
            obj = json.loads(value)
        except ValueError:
            return values
        if not isinstance(obj, dict):
            return values
        parsed.append(obj)
    return parsed


def _continue_on(task: dict[str, Any], phase: str) -> bool:
    cont = task.get("continueOn") or {}
    return bool(cont.get("failed") if phase == "Failed" else cont.get("error"))


_GO_PARAM_FIELDS = ("name", "default", "value", "valueFrom", "globalName", "enum", "description")


def _go_param(p: dict[str, Any]) -> dict[str, Any]:
    """A Parameter as Go marshals it: its fields in struct order, values as strings."""
    out = {}
    for key in _GO_PARAM_FIELDS:
        if key in p:
            out[key] = to_str(p[key]) if key in ("default", "value") else p[key]
    return out


def _upsert(items: list[dict[str, Any]], name: str, value: str) -> None:
    for item in items:
        if item["name"] == name:
            item["value"] = value
            return
    items.append({"name": name, "value": value})
