"""Bring the app's Run and Step rows in line with what Argo says.

One pass lists the active workflows of each namespace without their nodes (label selector,
trimmed fields); only those whose resourceVersion moved since the last pass are read with their
nodes (one by one when they are few, else listed again in one call), and only their nodes
whose digest moved are compared with their rows. The runs missing from the list (they
finished, or their workflow is gone) are asked for one by one. Rows are written only where
something changed: one statement per table (apps/orchestration/bulk.py).
"""

from __future__ import annotations

import json
import logging
import re
import time
import zlib
from datetime import datetime
from typing import Any

import orjson
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.orchestration.argo import (
    SYNC_FIELDS,
    SYNC_HEAD_FIELDS,
    SYNC_ONE_FIELDS,
    ArgoClient,
    ArgoError,
    ArgoNotFound,
)
from apps.orchestration.bulk import update_rows, update_values
from apps.runs.constants import RUN_ACTIVE_STATES, STEP_FINAL_PHASES, RunState, StepPhase
from apps.runs.models import Run, Step
from apps.runs.push import publish_on_commit
from apps.runs.signals import runs_finished
from ydpipelines.argo_names import pod_name

logger = logging.getLogger(__name__)

# Every workflow the app starts carries its pipeline version's label: one-off runs and the ones a
# recurring run's CronWorkflow spawns alike, so that one selector finds them all.
VERSION_LABEL = "ydpipelines.io/pipeline-version"
ACTIVE_SELECTOR = f"{VERSION_LABEL},workflows.argoproj.io/completed!=true"
# Moved workflows (of a namespace) asked for one by one, with their nodes, up to this many (and a
# quarter of those listed); more are listed again, nodes and all, in one call.
ONE_BY_ONE = 20
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


# The choices' values, once: an enum's `.values` builds a new list on every access (20,000
# times a pass).
_RUN_STATES = frozenset(RunState.values)
_STEP_PHASES = frozenset(StepPhase.values)


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
    if phase in _RUN_STATES:
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
    if phase not in _STEP_PHASES:
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


def node_digest(node: dict[str, Any]) -> str:
    """A digest of a node as Argo sent it (64 bits: CRC-32 and Adler-32 of its JSON): the
    sync compares a node with its Step row only when this differs from the row's. The node
    comes as parsed from Argo's answer, keys in the order Argo wrote them; another order only
    costs one comparison more."""
    try:
        data = orjson.dumps(node)
    except TypeError:  # an integer past 64 bits
        data = json.dumps(node).encode()
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def stored_digests(run_ids: list[Any]) -> dict[Any, dict[str, tuple[int, str]]]:
    """run id -> node id -> (step id, digest) of these runs' steps, in one query. Keyed by
    run, then node id: a pass looks a run up once, then its nodes by their strings (a key of
    (UUID, node id) hashed the UUID in Python for every node, a fifth of the pass's CPU). On
    PostgreSQL the rows come grouped by run, as arrays: a row a run, not a row (and a UUID
    made in Python) a step."""
    known: dict[Any, dict[str, tuple[int, str]]] = {run_id: {} for run_id in run_ids}
    if not run_ids:
        return known
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT run_id, array_agg(node_id), array_agg(id), array_agg(sync_digest) "
                f"FROM {connection.ops.quote_name(Step._meta.db_table)} "
                "WHERE run_id = ANY(%s) GROUP BY run_id",
                [list(run_ids)],
            )
            for run_id, node_ids, pks, digests in cursor.fetchall():
                known[run_id] = dict(zip(node_ids, zip(pks, digests, strict=True), strict=True))
        return known
    rows = Step.objects.filter(run_id__in=run_ids).values_list(
        "run_id", "node_id", "pk", "sync_digest"
    )
    for run_id, node_id, pk, digest in rows:
        known[run_id][node_id] = (pk, digest)
    return known


def moved_rows(pks: list[int]) -> dict[int, tuple[str, datetime | None, str, bool, bool]]:
    """What the rows of moved nodes say that their new values depend on: step id -> (phase,
    start, message, log fetched, artifacts fetched): was it final (its end is reported once),
    when it started (a rerun), the message read from its log. The start only of a row in a
    final phase (is_rerun reads no other). On PostgreSQL one array parameter, not an
    `IN (%s, ...)` of 20,000 values that Django resolved and psycopg quoted one by one (a
    second of the every-step pass's CPU, profiled), and no datetime made for a running step."""
    if not pks:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, phase, CASE WHEN phase = ANY(%s) THEN started_at END, message, "
                "log_fetched, artifacts_fetched "
                f"FROM {connection.ops.quote_name(Step._meta.db_table)} WHERE id = ANY(%s)",
                [sorted(str(phase) for phase in STEP_FINAL_PHASES), pks],
            )
            return {row[0]: row[1:] for row in cursor.fetchall()}
    rows = Step.objects.filter(pk__in=pks).values_list(
        "pk", "phase", "started_at", "message", "log_fetched", "artifacts_fetched"
    )
    return {
        pk: (phase, started if phase in STEP_FINAL_PHASES else None, *rest)
        for pk, phase, started, *rest in rows
    }


def is_rerun(stored_phase: str, stored_started: datetime | None, values: dict[str, Any]) -> bool:
    """Whether Argo ran a finished node again (the workflow's Retry action re-creates a failed
    node under the same id): it is no longer final, or it started at another time."""
    if stored_phase not in STEP_FINAL_PHASES:
        return False
    if values["phase"] not in STEP_FINAL_PHASES:
        return True
    started = values["started_at"]
    return bool(started and stored_started and started != stored_started)


def is_shown(workflow_name: str, node_id: str, node: dict[str, Any]) -> bool:
    """Whether a node gets a Step row: not the workflow's bookkeeping (its root node, unless
    the entrypoint is a single Pod; step and task groups)."""
    kind = node.get("type")
    return kind not in HIDDEN_NODE_TYPES and (node_id != workflow_name or kind == "Pod")


STEP_WRITTEN = [*STEP_FIELDS, "log_fetched", "artifacts_fetched", "sync_digest"]


def sync_steps(
    runs_with_workflows: list[tuple[Run, dict[str, Any]]], touched: set[Any] | None = None
) -> list[int]:
    """Upsert the Step rows of these runs; returns ids of steps that just reached a final phase
    and whose outputs have not been fetched yet. Adds the ids of the runs whose steps changed
    to ``touched``.

    A node is read into values only when its digest differs from its row's (most nodes of a
    moved workflow did not move); those rows are then read (a few columns) and written with
    one statement. No model instance a row, except for the steps created."""
    known = stored_digests([run.pk for run, _ in runs_with_workflows])
    to_create: list[Step] = []
    moved: list[tuple[int, dict[str, Any], str]] = []  # (step id, values, digest)
    for run, workflow in runs_with_workflows:
        workflow_name = (workflow.get("metadata") or {}).get("name") or run.workflow_name
        run_known = known.get(run.pk) or {}
        for node_id, node in ((workflow.get("status") or {}).get("nodes") or {}).items():
            if not is_shown(workflow_name, node_id, node):
                continue
            digest = node_digest(node)
            stored = run_known.get(node_id)
            if stored is not None and stored[1] == digest:
                continue
            if touched is not None:
                touched.add(run.pk)
            values = step_values(workflow_name, {"id": node_id, **node})
            if stored is None:
                to_create.append(Step(run=run, node_id=node_id, sync_digest=digest, **values))
            else:
                moved.append((stored[0], values, digest))
    finished: list[int] = []
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
    if not moved:
        return finished
    stored_rows = moved_rows([pk for pk, _, _ in moved])
    writes = []
    for pk, values, digest in moved:
        if pk not in stored_rows:
            continue  # deleted meanwhile (its run was)
        phase, started, message, log_fetched, artifacts_fetched = stored_rows[pk]
        rerun = is_rerun(phase, started, values)
        if values["message"] and message.startswith(values["message"]) and not rerun:
            values["message"] = message  # keeps the reason read from the step's log
        # A retried workflow ran the node again: its log and outputs are new.
        log_fetched = log_fetched and not rerun
        artifacts_fetched = artifacts_fetched and not rerun
        writes.append(
            (pk, *(values[f] for f in STEP_FIELDS), log_fetched, artifacts_fetched, digest)
        )
        ended = values["phase"] in STEP_FINAL_PHASES and (rerun or phase not in STEP_FINAL_PHASES)
        if ended and not log_fetched and values["node_type"] == "Pod":
            finished.append(pk)
    update_values(Step, STEP_WRITTEN, writes)
    return finished


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


_PASS_RUN_FIELDS = [
    "id",
    "workflow_name",
    "workflow_namespace",
    "workflow_uid",
    *RUN_FIELDS,
    "last_synced_at",
    "sync_error",
]


def sync_active_runs(client: ArgoClient) -> dict[str, Any]:
    """One sync pass. Returns figures (runs seen, rows changed, Argo calls) and the ids of the
    steps whose outputs should now be fetched."""
    now = timezone.now()
    began = time.monotonic()
    runs = list(
        Run.objects.filter(state__in=RUN_ACTIVE_STATES, submitted_at__isnull=False).only(
            *_PASS_RUN_FIELDS
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
            # The workflows without their nodes first: most did not move since the last pass
            # (same resourceVersion), and their nodes are most of the answer.
            stats["calls"] += 1
            heads = client.list_workflows(
                namespace=namespace, label_selector=ACTIVE_SELECTOR, fields=SYNC_HEAD_FIELDS
            )
            head_by_name = {(w.get("metadata") or {}).get("name"): w for w in heads}
            moved_names = {
                run.workflow_name
                for run in ns_runs
                if run.workflow_name in head_by_name
                and not unchanged_since_last_pass(run, head_by_name[run.workflow_name])
            }
            listed: dict[str | None, dict[str, Any]] = {}
            if len(moved_names) > min(ONE_BY_ONE, len(heads) // 4):
                stats["calls"] += 1
                listed = {
                    (w.get("metadata") or {}).get("name"): w
                    for w in client.list_workflows(
                        namespace=namespace, label_selector=ACTIVE_SELECTOR, fields=SYNC_FIELDS
                    )
                }
        except ArgoError as exc:
            failed_runs.extend((run, str(exc)) for run in ns_runs)
            continue
        for run in ns_runs:
            workflow = head_by_name.get(run.workflow_name)
            if workflow is not None and run.workflow_name in moved_names:
                workflow = listed.get(run.workflow_name)
            if workflow is None:
                # Moved (and few did), finished since the last pass, or gone: ask for it alone.
                try:
                    stats["calls"] += 1
                    workflow = client.get_workflow(
                        run.workflow_name, namespace=namespace, fields=SYNC_ONE_FIELDS
                    )
                except ArgoNotFound:
                    _mark_gone(run, now)
                    gone.append(run)
                    continue
                except ArgoError as exc:
                    failed_runs.append((run, str(exc)))
                    continue
            pairs.append((run, workflow))

    return _write(pairs, gone, failed_runs, now, stats, began)


def sync_workflows(workflows: list[dict[str, Any]]) -> dict[str, Any]:
    """Copy these workflows (as Argo's watch sent them) onto their active runs: the pass of
    sync_active_runs for the runs that just moved, without asking Argo again."""
    now = timezone.now()
    began = time.monotonic()
    by_key = {
        ((w.get("metadata") or {}).get("namespace"), (w.get("metadata") or {}).get("name")): w
        for w in workflows
    }
    names = {name for _, name in by_key}
    runs = list(
        Run.objects.filter(
            state__in=RUN_ACTIVE_STATES, submitted_at__isnull=False, workflow_name__in=names
        ).only(*_PASS_RUN_FIELDS)
    )
    pairs = [
        (run, by_key[key])
        for run in runs
        if (key := (run.workflow_namespace, run.workflow_name)) in by_key
    ]
    stats: dict[str, Any] = {"runs": len(pairs), "calls": 0, "changed": 0, "errors": 0}
    return _write(pairs, [], [], now, stats, began)


def _write(
    pairs: list[tuple[Run, dict[str, Any]]],
    gone: list[Run],
    failed_runs: list[tuple[Run, str]],
    now: datetime,
    stats: dict[str, Any],
    began: float,
) -> dict[str, Any]:
    """Write what the workflows say onto their runs and steps, in one transaction, and push
    the runs that changed to the pages once it commits."""
    # Only workflows that moved since the last pass are compared node by node.
    moved = [(run, wf) for run, wf in pairs if not unchanged_since_last_pass(run, wf)]
    stats["unchanged"] = len(pairs) - len(moved)
    # Where a pass spends its time: asking Argo, or comparing and writing rows.
    stats["argo_seconds"] = stats.get("argo_seconds") or round(time.monotonic() - began, 3)
    touched: set[Any] = set()
    with transaction.atomic():
        changed_runs = [run for run, workflow in moved if apply_workflow(run, workflow, now)]
        stats["changed"] = len(changed_runs)
        finished_steps = sync_steps(moved, touched)
        # Most runs change nothing but the time they were last seen: one UPDATE for those.
        changed_ids = {run.pk for run in changed_runs}
        unchanged = [run.pk for run, _ in pairs if run.pk not in changed_ids]
        if unchanged:
            Run.objects.filter(pk__in=unchanged).update(last_synced_at=now, sync_error="")
        update_rows(changed_runs + gone, [*RUN_FIELDS, "last_synced_at", "sync_error"])
        # Only active runs are read above, so a run is reported once: in the pass it ended.
        finished = [run.pk for run in changed_runs + gone if run.state not in RUN_ACTIVE_STATES]
        if finished:
            runs_finished.send(sender=Run, run_ids=finished)
        for run, error in failed_runs:
            # Keep the last known state; the pages say it is stale and since when.
            Run.objects.filter(pk=run.pk).update(sync_error=error)
        states = {run.pk: run.state for run, _ in moved}
        states.update((run.pk, run.state) for run in gone)
        publish_on_commit({pk: states[pk] for pk in touched | changed_ids | {r.pk for r in gone}})
    stats["write_seconds"] = round(time.monotonic() - began - stats["argo_seconds"], 3)
    stats["errors"] = len(failed_runs)
    stats["finished_step_ids"] = finished_steps
    return stats
