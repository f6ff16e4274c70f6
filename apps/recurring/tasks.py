"""Celery tasks of the runs app (recurring runs)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.orchestration.argo import ArgoClient, ArgoError, get_client
from apps.recurring.cron import (
    RECURRING_LABEL,
    VERSION_LABEL,
    render_cron_workflow,
    set_semaphore_limit,
    should_suspend,
)
from apps.recurring.models import RecurringRun
from apps.recurring.services import effective_version, parameters_for, record_spawned_run
from apps.recurring.signals import schedule_misfired
from apps.runs.models import Run
from apps.runs.tasks import cache_lock

logger = logging.getLogger(__name__)

DISCOVER_LOCK_KEY = "ydp:discover-recurring-lock"
DISCOVER_LOCK_TTL = 30
# What discovery needs of a spawned workflow.
DISCOVER_FIELDS = ",".join(
    [
        "metadata.continue",
        "items.metadata.name",
        "items.metadata.namespace",
        "items.metadata.uid",
        "items.metadata.labels",
        "items.metadata.creationTimestamp",
        "items.status.phase",
    ]
)


def discover_spawned_runs(client: ArgoClient, namespaces: list[str]) -> int:
    """One list call per namespace; a Run row for each spawned workflow the app does not know."""
    workflows: list[dict[str, Any]] = []
    for namespace in namespaces:
        workflows += client.list_workflows(
            namespace=namespace, label_selector=RECURRING_LABEL, fields=DISCOVER_FIELDS
        )
    names = [(w.get("metadata") or {}).get("name") for w in workflows]
    known = set(
        Run.objects.filter(workflow_name__in=[n for n in names if n]).values_list(
            "workflow_name", flat=True
        )
    )
    created = 0
    for workflow in workflows:
        meta = workflow.get("metadata") or {}
        if not meta.get("name") or meta["name"] in known:
            continue
        recurring_id = (meta.get("labels") or {}).get(RECURRING_LABEL)
        try:
            run = record_spawned_run(recurring_id, workflow)
        except (ValueError, TypeError):  # a label that is not a UUID: not ours
            continue
        if run is not None and run.workflow_name == meta["name"]:
            created += 1
    return created


def submission_error(cron: dict[str, Any]) -> str | None:
    """The message of Argo's SubmissionError condition: the last scheduled run could not be
    started (its workflow was refused). None once a submit has worked again."""
    for condition in (cron.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "SubmissionError" and condition.get("status") == "True":
            return condition.get("message") or "the scheduled workflow could not be submitted"
    return None


def report_misfire(recurring: RecurringRun, cron: dict[str, Any]) -> None:
    message = submission_error(cron)
    if message is not None:
        schedule_misfired.send(
            sender=RecurringRun,
            recurring_run_id=recurring.pk,
            message=message,
            scheduled_at=(cron.get("status") or {}).get("lastScheduledTime") or "",
        )


def reconcile_cron_workflows(client: ArgoClient, namespaces: list[str]) -> dict[str, int]:
    """Keep each CronWorkflow as its row says, as time passes: suspended outside the start/end
    window (resumed when the start comes, suspended at the end: "expired"), and on the newest
    version for "always the latest". One list call per namespace, a call per change."""
    now = timezone.now()
    stats = {"suspended": 0, "resumed": 0, "updated": 0, "recreated": 0, "errors": 0}
    rows = list(
        RecurringRun.objects.select_related("pipeline", "pipeline_version").exclude(
            cron_workflow_name=""
        )
    )
    latest: dict[int, Any] = {}
    for namespace in namespaces:
        crons = {
            (c.get("metadata") or {}).get("name"): c
            for c in client.list_cron_workflows(namespace=namespace, label_selector=RECURRING_LABEL)
        }
        for recurring in (r for r in rows if (r.namespace or settings.ARGO_NAMESPACE) == namespace):
            cron = crons.get(recurring.cron_workflow_name)
            error = ""
            if cron is not None:
                report_misfire(recurring, cron)
            try:
                if cron is None:
                    if recurring.end_at and recurring.end_at <= now:
                        continue  # expired and gone: nothing to run any more
                    version = effective_version(recurring)
                    manifest = render_cron_workflow(
                        recurring,
                        version,
                        namespace=namespace,
                        now=now,
                        parameters=parameters_for(version, recurring.parameters),
                    )
                    if recurring.max_concurrency > 1:
                        set_semaphore_limit(
                            client,
                            namespace,
                            recurring.cron_workflow_name,
                            recurring.max_concurrency,
                        )
                    client.create_cron_workflow(manifest, namespace=namespace)
                    stats["recreated"] += 1
                    continue
                spec = cron.get("spec") or {}
                if recurring.pipeline_version_id is None:
                    if recurring.pipeline_id not in latest:
                        latest[recurring.pipeline_id] = recurring.pipeline.latest_version()
                    version = latest[recurring.pipeline_id]
                    carried = ((spec.get("workflowMetadata") or {}).get("labels") or {}).get(
                        VERSION_LABEL
                    )
                    if version is not None and carried != str(version.pk):
                        manifest = render_cron_workflow(
                            recurring,
                            version,
                            namespace=namespace,
                            now=now,
                            parameters=parameters_for(version, recurring.parameters),
                        )
                        resource_version = (cron.get("metadata") or {}).get("resourceVersion")
                        if resource_version:
                            manifest["metadata"]["resourceVersion"] = resource_version
                        client.update_cron_workflow(manifest, namespace=namespace)
                        stats["updated"] += 1
                        continue
                suspend = should_suspend(recurring, now)
                if suspend and not spec.get("suspend"):
                    client.suspend_cron_workflow(recurring.cron_workflow_name, namespace=namespace)
                    stats["suspended"] += 1
                elif not suspend and spec.get("suspend"):
                    client.resume_cron_workflow(recurring.cron_workflow_name, namespace=namespace)
                    stats["resumed"] += 1
            except ArgoError as exc:
                error = str(exc)
                stats["errors"] += 1
            except Exception as exc:
                logger.exception("recurring run %s", recurring.pk)
                error = f"Could not update the schedule: {exc}"
                stats["errors"] += 1
            if error != recurring.sync_error:
                RecurringRun.objects.filter(pk=recurring.pk).update(sync_error=error)
    return stats


def namespaces_in_use() -> list[str]:
    used = set(
        RecurringRun.objects.exclude(Q(namespace="") | Q(cron_workflow_name=""))
        .values_list("namespace", flat=True)
        .distinct()
    )
    if RecurringRun.objects.filter(namespace="").exists():
        used.add(settings.ARGO_NAMESPACE)
    return sorted(used)


@shared_task(acks_late=True, soft_time_limit=DISCOVER_LOCK_TTL - 5, time_limit=DISCOVER_LOCK_TTL)
def discover_recurring_runs() -> int:
    """Create Run rows for the workflows that recurring runs' CronWorkflows spawned (the regular
    sync then follows them), and suspend/resume CronWorkflows as their start and end pass.
    Returns how many runs it created."""
    with cache_lock(DISCOVER_LOCK_KEY, ttl=DISCOVER_LOCK_TTL) as acquired:
        if not acquired:
            return 0
        namespaces = namespaces_in_use()
        if not namespaces:
            return 0
        client = get_client()
        try:
            created = discover_spawned_runs(client, namespaces)
            reconcile_cron_workflows(client, namespaces)
        except ArgoError as exc:
            logger.warning("discover_recurring_runs: %s", exc)
            return 0
        return created
