"""CronWorkflows: stored specs, and a scheduler thread that spawns workflows on time with
Argo's names (``<cron>-<unix time>``), labels, concurrency policies and history limits."""

from __future__ import annotations

import contextlib
import copy
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from .controller import SCHEDULED_ANNOTATION
from .expressions import ExpressionError, eval_expr
from .nodes import now_iso, parse_iso
from .shape import METADATA, SPEC, check_shape, without_nulls
from .validate import ApiError, validate_spec

if TYPE_CHECKING:
    from .engine import Engine

CRON_LABEL = "workflows.argoproj.io/cron-workflow"
POLICIES = ("Allow", "Forbid", "Replace")


def validate_cron(cron: dict[str, Any], allow_seconds: bool = False) -> None:
    if not isinstance(cron, dict):
        raise ApiError(400, "cronWorkflow: expected object")
    check_shape(cron.get("metadata"), METADATA, "metadata")
    spec = cron.get("spec")
    if not isinstance(spec, dict):
        raise ApiError(400, "spec is required")
    # types first, as Kubernetes decodes before anything else looks
    check_shape(spec.get("workflowSpec"), SPEC, "spec.workflowSpec")
    if "schedule" in spec and not spec.get("schedules"):
        raise ApiError(400, "spec.schedule was removed in Argo v4: use spec.schedules (a list)")
    schedules = spec.get("schedules")
    if not schedules or not isinstance(schedules, list):
        raise ApiError(400, "spec.schedules is required (a list of cron expressions)")
    for i, expr in enumerate(schedules):
        fields = len(expr.split()) if isinstance(expr, str) else 0
        ok_fields = fields == 5 or (allow_seconds and fields == 6)
        if not ok_fields or not croniter.is_valid(expr):
            raise ApiError(
                400, f"spec.schedules[{i}] {expr!r} is not a valid 5-field cron schedule"
            )
    if spec.get("timezone"):
        try:
            ZoneInfo(spec["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise ApiError(
                400, f"spec.timezone {spec['timezone']!r} is not a known time zone"
            ) from None
    policy = spec.get("concurrencyPolicy", "Allow")
    if policy not in POLICIES:
        raise ApiError(400, f"spec.concurrencyPolicy must be one of {', '.join(POLICIES)}")
    if not isinstance(spec.get("workflowSpec"), dict):
        raise ApiError(400, "spec.workflowSpec is required")
    validate_spec(spec["workflowSpec"], "spec.workflowSpec")


class CronScheduler:
    def __init__(self, engine: Engine, allow_seconds: bool = False) -> None:
        self.e = engine
        # Test affordance (--cron-seconds): croniter's 6-field form, seconds last.
        self.allow_seconds = allow_seconds
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="cron", daemon=True).start()

    def _loop(self) -> None:
        while not self._stop.wait(1.0 - (time.time() % 1.0) + 0.01):
            # a bad cron must not stop the others
            with contextlib.suppress(Exception):
                self.tick(time.time())

    # -- API -----------------------------------------------------------------------

    def create(self, ns: str, cron: dict[str, Any]) -> dict[str, Any]:
        ns = ns or "default"
        cron = without_nulls(cron)  # a fresh copy; null is absent, as for Argo's decoder
        validate_cron(cron, self.allow_seconds)
        meta = cron.setdefault("metadata", {})
        with self.e.lock:
            if not meta.get("name"):
                if not meta.get("generateName"):
                    raise ApiError(400, "metadata.name is required")
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            if self.e.store.get("cronworkflows", ns, meta["name"]) is not None:
                raise ApiError(
                    409,
                    f'cronworkflows.argoproj.io "{meta["name"]}" already exists',
                    "AlreadyExists",
                )
            cron["apiVersion"] = "argoproj.io/v1alpha1"
            cron["kind"] = "CronWorkflow"
            meta.update(
                namespace=ns, uid=str(uuid.uuid4()), creationTimestamp=now_iso(), generation=1
            )
            cron["status"] = {
                "active": [],
                "conditions": [],
                "phase": "Active",
                "succeeded": 0,
                "failed": 0,
            }
            self.e.store.put("cronworkflows", ns, meta["name"], cron, now=True)
            return copy.deepcopy(cron)

    def lint(self, ns: str, cron: dict[str, Any]) -> dict[str, Any]:
        validate_cron(cron, self.allow_seconds)
        return cron

    def get(self, ns: str, name: str) -> dict[str, Any]:
        with self.e.lock:
            cron = self.e.store.get("cronworkflows", ns or "default", name)
            if cron is None:
                raise ApiError(404, f'cronworkflows.argoproj.io "{name}" not found', "NotFound")
            return copy.deepcopy(cron)

    def update(self, ns: str, name: str, cron: dict[str, Any]) -> dict[str, Any]:
        ns = ns or "default"
        cron = without_nulls(cron)
        validate_cron(cron, self.allow_seconds)
        with self.e.lock:
            old = self.e.store.get("cronworkflows", ns, name)
            if old is None:
                raise ApiError(404, f'cronworkflows.argoproj.io "{name}" not found', "NotFound")
            new = copy.deepcopy(cron)
            meta = new.setdefault("metadata", {})
            for key in ("name", "namespace", "uid", "creationTimestamp"):
                meta[key] = old["metadata"][key]
            meta["generation"] = old["metadata"].get("generation", 1) + 1
            new["status"] = old.get("status", {})
            new["apiVersion"], new["kind"] = "argoproj.io/v1alpha1", "CronWorkflow"
            self.e.store.put("cronworkflows", ns, name, new, now=True)
            return copy.deepcopy(new)

    def delete(self, ns: str, name: str) -> None:
        with self.e.lock:
            if self.e.store.delete("cronworkflows", ns or "default", name) is None:
                raise ApiError(404, f'cronworkflows.argoproj.io "{name}" not found', "NotFound")

    def set_suspend(self, ns: str, name: str, suspend: bool) -> dict[str, Any]:
        with self.e.lock:
            cron = self.e.store.get("cronworkflows", ns or "default", name)
            if cron is None:
                raise ApiError(404, f'cronworkflows.argoproj.io "{name}" not found', "NotFound")
            cron["spec"]["suspend"] = suspend
            if not suspend:
                # resuming does not replay the schedules missed while suspended
                cron["status"]["lastScheduledTime"] = now_iso()
            self.e.store.put("cronworkflows", ns or "default", name, cron, now=True)
            return copy.deepcopy(cron)

    # -- spawning ------------------------------------------------------------------

    def workflow_from(
        self, ns: str, name: str, manual: bool = False, at: float | None = None
    ) -> dict[str, Any]:
        cron = self.get(ns, name)
        spec = cron["spec"]
        wmeta = copy.deepcopy(spec.get("workflowMetadata") or {})
        labels = {**(wmeta.get("labels") or {}), CRON_LABEL: name}
        meta: dict[str, Any] = {
            "labels": labels,
            "annotations": dict(wmeta.get("annotations") or {}),
        }
        if manual:
            meta["generateName"] = f"{name}-"
        else:
            meta["name"] = f"{name}-{int(at or time.time())}"
            meta["annotations"][SCHEDULED_ANNOTATION] = now_iso(at)
        meta["ownerReferences"] = [
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "CronWorkflow",
                "name": name,
                "uid": cron["metadata"]["uid"],
                "blockOwnerDeletion": True,
                "controller": True,
            }
        ]
        return {"metadata": meta, "spec": copy.deepcopy(spec["workflowSpec"])}

    def tick(self, now: float) -> None:
        with self.e.lock:
            crons = [copy.deepcopy(c) for c in self.e.store.items("cronworkflows")]
        for cron in crons:
            if cron["spec"].get("suspend"):
                continue
            due = self._due(cron, now)
            if due is not None:
                self._fire(cron, due, now)

    def _due(self, cron: dict[str, Any], now: float) -> float | None:
        spec = cron["spec"]
        tz = ZoneInfo(spec["timezone"]) if spec.get("timezone") else UTC
        last = parse_iso(cron["status"].get("lastScheduledTime")) or parse_iso(
            cron["metadata"].get("creationTimestamp")
        )
        start = datetime.fromtimestamp(last or now, tz)
        latest = None
        for expr in spec["schedules"]:
            it = croniter(expr, start)
            nxt = it.get_next(float)
            while nxt <= now:
                latest = nxt if latest is None or nxt > latest else latest
                nxt = it.get_next(float)
        return latest

    def _fire(self, cron: dict[str, Any], due: float, now: float) -> None:
        ns, name = cron["metadata"]["namespace"], cron["metadata"]["name"]
        spec = cron["spec"]
        skip_reason = None
        deadline = spec.get("startingDeadlineSeconds")
        # Argo's cron operator treats 0 as unset (examples/cron-workflow.yaml uses 0)
        if deadline and now - due > float(deadline):
            skip_reason = "missed the starting deadline"
        if skip_reason is None and spec.get("when"):
            skip_reason = self._when_blocks(cron)
        with self.e.lock:
            live = self.e.store.get("cronworkflows", ns, name)
            if live is None:
                return
            st = live["status"]
            st["lastScheduledTime"] = now_iso(due)
            active = [a for a in st.get("active", []) if self._running(ns, a["name"])]
            st["active"] = active
            policy = spec.get("concurrencyPolicy", "Allow")
            if skip_reason is None and active and policy == "Forbid":
                skip_reason = "concurrencyPolicy Forbid: a workflow is still running"
            if skip_reason is None and active and policy == "Replace":
                for ref in active:
                    with contextlib.suppress(ApiError):
                        self.e.shutdown(ns, ref["name"], "Terminate")
                st["active"] = active = []
            self.e.store.put("cronworkflows", ns, name, live, now=True)
        if skip_reason:
            return
        wf = self.workflow_from(ns, name, at=due)
        try:
            created = self.e.create_workflow(ns, wf)
        except ApiError as exc:
            if exc.status != 409:
                self._condition(ns, name, exc.message)
            return
        with self.e.lock:
            live = self.e.store.get("cronworkflows", ns, name)
            if live is not None:
                # As Argo: a submit that works clears the last one's SubmissionError.
                live["status"]["conditions"] = [
                    c
                    for c in live["status"].get("conditions") or []
                    if c.get("type") != "SubmissionError"
                ]
                live["status"].setdefault("active", []).append(
                    {
                        "apiVersion": "argoproj.io/v1alpha1",
                        "kind": "Workflow",
                        "namespace": ns,
                        "name": created["metadata"]["name"],
                        "uid": created["metadata"]["uid"],
                    }
                )
                self.e.store.put("cronworkflows", ns, name, live, now=True)

    def _when_blocks(self, cron: dict[str, Any]) -> str | None:
        expr = cron["spec"]["when"].strip()
        if expr.startswith("{{") and expr.endswith("}}"):
            expr = expr[2:-2].strip().lstrip("=")
        env = {
            "cronworkflow": {
                "name": cron["metadata"]["name"],
                "namespace": cron["metadata"]["namespace"],
                "labels": cron["metadata"].get("labels") or {},
                "annotations": cron["metadata"].get("annotations") or {},
                "lastScheduledTime": parse_iso(cron["status"].get("lastScheduledTime")),
                "failed": cron["status"].get("failed", 0),
                "succeeded": cron["status"].get("succeeded", 0),
            }
        }
        try:
            return None if eval_expr(expr, env) else f"when {cron['spec']['when']!r} is false"
        except ExpressionError as exc:
            return f"when expression failed: {exc}"

    def _condition(self, ns: str, name: str, message: str) -> None:
        with self.e.lock:
            live = self.e.store.get("cronworkflows", ns, name)
            if live is not None:
                live["status"]["conditions"] = [
                    {"type": "SubmissionError", "status": "True", "message": message}
                ]
                self.e.store.put("cronworkflows", ns, name, live)

    def _running(self, ns: str, wf_name: str) -> bool:
        wf = self.e.store.get("workflows", ns, wf_name)
        return wf is not None and wf["status"].get("phase") in ("Pending", "Running", None)

    def workflow_finished(self, wf: dict[str, Any]) -> None:
        """Called under the engine lock when a workflow ends: active list, counts, history."""
        name = (wf["metadata"].get("labels") or {}).get(CRON_LABEL)
        if not name:
            return
        ns = wf["metadata"]["namespace"]
        cron = self.e.store.get("cronworkflows", ns, name)
        if cron is None:
            return
        st = cron["status"]
        st["active"] = [a for a in st.get("active", []) if a["name"] != wf["metadata"]["name"]]
        ok = wf["status"].get("phase") == "Succeeded"
        st["succeeded" if ok else "failed"] = st.get("succeeded" if ok else "failed", 0) + 1
        self.e.store.touch("cronworkflows", ns, name)
        limit_key = "successfulJobsHistoryLimit" if ok else "failedJobsHistoryLimit"
        limit = cron["spec"].get(limit_key, 3 if ok else 1)
        phases = ("Succeeded",) if ok else ("Failed", "Error")
        done = [
            w
            for w in self.e.store.items("workflows", ns)
            if (w["metadata"].get("labels") or {}).get(CRON_LABEL) == name
            and w["status"].get("phase") in phases
        ]
        done.sort(key=lambda w: w["status"].get("finishedAt") or "", reverse=True)
        for old in done[int(limit) :]:
            threading.Thread(
                target=self._delete_quietly, args=(ns, old["metadata"]["name"]), daemon=True
            ).start()

    def _delete_quietly(self, ns: str, name: str) -> None:
        with contextlib.suppress(ApiError):
            self.e.delete_workflow(ns, name)
