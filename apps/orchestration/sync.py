"""Bring the app's Run and Step rows in line with what Argo says.

One pass lists the active workflows of each namespace in one call (label selector, trimmed
fields); the few runs missing from that list (they finished, or their workflow is gone) are asked
for one by one. Rows are written only where something changed, in bulk.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.orchestration.argo import SYNC_FIELDS, ArgoClient, ArgoError, ArgoNotFound
from apps.runs.constants import RUN_ACTIVE_STATES, STEP_FINAL_PHASES, RunState, StepPhase
from apps.runs.models import Run, Step
from ydpipelines.argo_names import pod_name

logger = logging.getLogger(__name__)

# Every workflow the app starts carries its pipeline version's label: one-off runs and the ones a
# recurring run's CronWorkflow spawns alike, so that one selector finds them all.
VERSION_LABEL = "ydpipelines.io/pipeline-version"
ACTIVE_SELECTOR = f"{VERSION_LABEL},workflows.argoproj.io/completed!=true"
# Nodes that are the workflow's own bookkeeping, not a step a user wants to see.
HIDDEN_NODE_TYPES = frozenset({"StepGroup", "TaskGroup"})
STEP_FIELDS = [
    "name",
    "display_name",
    "template_name",
    "node_type",
    "phase",
    "message",
    "exit_code",
    "pod_name",
    "started_at",
    "finished_at",
    "inputs",
    "outputs",
    "resources",
]
RUN_FIELDS = [
    "state",
    "message",
    "started_at",
    "finished_at",
    "progress_done",
    "progress_total",
    "workflow_uid",
    "workflow_resource_version",
]


def _dt(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def pod_name_for(workflow_name: str, node: dict[str, Any]) -> str:
    """The pod Argo (and the embedded engine) made for a Pod node; other nodes have no pod."""
    if node.get("type") != "Pod":
        return node.get("id", "")
    # Argo's UI reads the template from templateName, else from templateRef.template
    template = node.get("templateName") or (node.get("templateRef") or {}).get("template", "")
    return pod_name(workflow_name, node.get("name", ""), template)


CHILD_FAILED = re.compile(r"child '([^']+)' failed")


def readable_message(status: dict[str, Any]) -> str:
    """Argo says "child 'run-abc-4222249682' failed"; say which step, and why."""
    message = status.get("message") or ""
    match = CHILD_FAILED.search(message)
    node = ((status.get("nodes") or {}).get(match.group(1)) or {}) if match else {}
    if not node:
        return message
    # The failed child may be a Retry or DAG node: its failing leaf says more.
    nodes = status.get("nodes") or {}
    while node.get("type") not in ("Pod", None) and node.get("children"):
        failed = [
            nodes.get(c)
            for c in node["children"]
            if (nodes.get(c) or {}).get("phase") in ("Failed", "Error")
        ]
        if not failed:
            break
        node = failed[-1]
    name = node.get("displayName") or match.group(1)
    detail = node.get("message") or ""
    return f"Step {name!r} failed" + (f": {detail}" if detail else "")


def run_state_from(workflow: dict[str, Any]) -> tuple[str, str]:
    status = workflow.get("status") or {}
    phase = status.get("phase") or "Pending"
    message = readable_message(status)
    if phase in ("Failed", "Error") and "terminat" in message.lower():
        return RunState.TERMINATED, message
    if phase in RunState.values:
        return phase, message
    return RunState.PENDING, message


def _progress(status: dict[str, Any], total_default: int) -> tuple[int, int]:
    text = status.get("progress") or ""
    try:
        done, total = (int(part) for part in text.split("/", 1))
        return done, total
    except ValueError:
        return 0, total_default


def resource_version(workflow: dict[str, Any]) -> str:
    return str((workflow.get("metadata") or {}).get("resourceVersion") or "")[:32]


def unchanged_since_last_pass(run: Run, workflow: dict[str, Any]) -> bool:
    """Argo bumps a workflow's resourceVersion on every change: the same one means nothing in
    it (status, nodes) has moved since the sync last copied it."""
    version = resource_version(workflow)
    return bool(version) and version == run.workflow_resource_version


def apply_workflow(run: Run, workflow: dict[str, Any], now: datetime) -> bool:
    """Copy a workflow's status onto the run (in memory). Returns whether anything changed."""
    status = workflow.get("status") or {}
    state, message = run_state_from(workflow)
    done, total = _progress(status, run.progress_total)
    new = {
        "state": state,
        "message": message,
        "started_at": _dt(status.get("startedAt")) or run.started_at,
        "finished_at": _dt(status.get("finishedAt")) if state not in RUN_ACTIVE_STATES else None,
        "progress_done": done,
        "progress_total": total or run.progress_total,
        "workflow_uid": (workflow.get("metadata") or {}).get("uid") or run.workflow_uid,
        "workflow_resource_version": resource_version(workflow),
    }
    changed = False
    for field, value in new.items():
        if getattr(run, field) != value:
            setattr(run, field, value)
            changed = True
    run.last_synced_at = now
    run.sync_error = ""
    return changed


def step_values(workflow_name: str, node: dict[str, Any]) -> dict[str, Any]:
    outputs = node.get("outputs") or {}
    exit_code = outputs.get("exitCode")
    phase = node.get("phase") or StepPhase.PENDING
    if phase not in StepPhase.values:
        phase = StepPhase.PENDING
    return {
        "name": node.get("name", "")[:253],
        "display_name": (node.get("displayName") or node.get("name") or node["id"])[:253],
        "template_name": (node.get("templateName") or "")[:253],
        "node_type": node.get("type", ""),
        "phase": phase,
        "message": node.get("message") or "",
        "exit_code": int(exit_code) if exit_code not in (None, "") else None,
        "pod_name": pod_name_for(workflow_name, node)[:253],
        "started_at": _dt(node.get("startedAt")),
        "finished_at": _dt(node.get("finishedAt")),
        "inputs": node.get("inputs") or {},
        "outputs": outputs,
        "resources": node.get("resourcesDuration") or {},
    }


def is_rerun(step: Step, values: dict[str, Any]) -> bool:
    """Whether Argo ran a finished node again (the workflow's Retry action re-creates a failed
    node under the same id): it is no longer final, or it started at another time."""
    if step.phase not in STEP_FINAL_PHASES:
        return False
    if values["phase"] not in STEP_FINAL_PHASES:
        return True
    started = values["started_at"]
    return bool(started and step.started_at and started != step.started_at)


def sync_steps(runs_with_workflows: list[tuple[Run, dict[str, Any]]]) -> list[int]:
    """Upsert the Step rows of these runs; returns ids of steps that just reached a final phase
    and whose outputs have not been fetched yet."""
    run_ids = [run.pk for run, _ in runs_with_workflows]
    existing: dict[tuple[Any, str], Step] = {
        (step.run_id, step.node_id): step
        for step in Step.objects.filter(run_id__in=run_ids).defer("log")
    }
    to_create: list[Step] = []
    to_update: list[Step] = []
    finished: list[int] = []
    for run, workflow in runs_with_workflows:
        workflow_name = (workflow.get("metadata") or {}).get("name") or run.workflow_name
        for node_id, node in ((workflow.get("status") or {}).get("nodes") or {}).items():
            node = {"id": node_id, **node}
            # The root node is the workflow itself, unless the entrypoint is a single Pod.
            if node.get("type") in HIDDEN_NODE_TYPES or (
                node_id == workflow_name and node.get("type") != "Pod"
            ):
                continue
            values = step_values(workflow_name, node)
            step = existing.get((run.pk, node_id))
            if step is None:
                to_create.append(Step(run=run, node_id=node_id, **values))
                continue
            rerun = is_rerun(step, values)
            if values["message"] and step.message.startswith(values["message"]) and not rerun:
                values["message"] = step.message  # keeps the reason read from the step's log
            if any(getattr(step, key) != value for key, value in values.items()):
                was_final = step.phase in STEP_FINAL_PHASES
                for key, value in values.items():
                    setattr(step, key, value)
                if rerun:
                    # A retried workflow ran the node again: its log and outputs are new.
                    step.log_fetched = step.artifacts_fetched = False
                to_update.append(step)
                ended = step.phase in STEP_FINAL_PHASES and (rerun or not was_final)
                if ended and not step.log_fetched:
                    finished.append(step.pk)
    if to_create:
        Step.objects.bulk_create(to_create, ignore_conflicts=True, batch_size=1000)
        created = Step.objects.filter(
            run_id__in={step.run_id for step in to_create},
            node_id__in=[step.node_id for step in to_create],
            phase__in=STEP_FINAL_PHASES,
            log_fetched=False,
            node_type="Pod",
        ).values_list("pk", flat=True)
        finished.extend(created)
    if to_update:
        Step.objects.bulk_update(
            to_update, [*STEP_FIELDS, "log_fetched", "artifacts_fetched"], batch_size=1000
        )
    pod_ids = set(
        Step.objects.filter(pk__in=finished, node_type="Pod").values_list("pk", flat=True)
    )
    return [pk for pk in finished if pk in pod_ids]


def _mark_gone(run: Run, now: datetime) -> None:
    """The workflow vanished (deleted, or garbage-collected before we saw its end)."""
    run.state = RunState.ERROR
    run.message = (
        "The workflow disappeared from Argo before its end was seen; "
        f"last known progress {run.progress_done}/{run.progress_total}."
    )
    run.finished_at = run.finished_at or now
    run.last_synced_at = now
    run.sync_error = ""


def sync_active_runs(client: ArgoClient) -> dict[str, Any]:
    """One sync pass. Returns figures (runs seen, rows changed, Argo calls) and the ids of the
    steps whose outputs should now be fetched."""
    now = timezone.now()
    runs = list(
        Run.objects.filter(state__in=RUN_ACTIVE_STATES, submitted_at__isnull=False).only(
            "id",
            "workflow_name",
            "workflow_namespace",
            "workflow_uid",
            *RUN_FIELDS,
            "last_synced_at",
            "sync_error",
        )
    )
    stats: dict[str, Any] = {"runs": len(runs), "calls": 0, "changed": 0, "errors": 0}
    if not runs:
        stats["finished_step_ids"] = []
        return stats
    by_namespace: dict[str, list[Run]] = {}
    for run in runs:
        by_namespace.setdefault(run.workflow_namespace, []).append(run)

    pairs: list[tuple[Run, dict[str, Any]]] = []
    gone: list[Run] = []
    failed_runs: list[tuple[Run, str]] = []
    for namespace, ns_runs in by_namespace.items():
        try:
            stats["calls"] += 1
            listed = client.list_workflows(
                namespace=namespace, label_selector=ACTIVE_SELECTOR, fields=SYNC_FIELDS
            )
        except ArgoError as exc:
            failed_runs.extend((run, str(exc)) for run in ns_runs)
            continue
        by_name = {(w.get("metadata") or {}).get("name"): w for w in listed}
        for run in ns_runs:
            workflow = by_name.get(run.workflow_name)
            if workflow is None:
                # Finished since the last pass, or gone: ask for it alone.
                try:
                    stats["calls"] += 1
                    workflow = client.get_workflow(run.workflow_name, namespace=namespace)
                except ArgoNotFound:
                    _mark_gone(run, now)
                    gone.append(run)
                    continue
                except ArgoError as exc:
                    failed_runs.append((run, str(exc)))
                    continue
            pairs.append((run, workflow))

    # Only workflows that moved since the last pass are compared node by node.
    moved = [(run, wf) for run, wf in pairs if not unchanged_since_last_pass(run, wf)]
    stats["unchanged"] = len(pairs) - len(moved)
    with transaction.atomic():
        changed_runs = [run for run, workflow in moved if apply_workflow(run, workflow, now)]
        stats["changed"] = len(changed_runs)
        finished_steps = sync_steps(moved)
        # Most runs change nothing but the time they were last seen: one UPDATE for those.
        changed_ids = {run.pk for run in changed_runs}
        unchanged = [run.pk for run, _ in pairs if run.pk not in changed_ids]
        if unchanged:
            Run.objects.filter(pk__in=unchanged).update(last_synced_at=now, sync_error="")
        Run.objects.bulk_update(
            changed_runs + gone, [*RUN_FIELDS, "last_synced_at", "sync_error"], batch_size=500
        )
        for run, error in failed_runs:
            # Keep the last known state; the pages say it is stale and since when.
            Run.objects.filter(pk=run.pk).update(sync_error=error)
    stats["errors"] = len(failed_runs)
    stats["finished_step_ids"] = finished_steps
    return stats
