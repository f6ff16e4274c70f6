"""Celery tasks: submit runs to Argo, sync their state back, and copy logs and artifacts.

Every task takes ids, re-reads its rows, and is safe to run twice: a workflow's name derives from
its run id (Argo answers 409 to a second create), step outputs are fetched under a claim, and the
periodic sync holds a lock so that two passes never overlap.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.utils import timezone

from apps.orchestration.argo import ArgoAlreadyExists, ArgoError, get_client
from apps.orchestration.queue import enqueue
from apps.pipelines.bundles import bundle_url, runner_url
from apps.pipelines.constants import SourceFormat
from apps.pipelines.rendering import workflow_for_run
from apps.runs.constants import STEP_FINAL_PHASES, RunState
from apps.runs.models import Run, Step
from apps.runs.outputs import fetch_step_outputs
from apps.runs.push import publish, publish_on_commit
from apps.runs.sync import sync_active_runs

logger = logging.getLogger(__name__)

SYNC_LOCK_KEY = "ydp:sync-runs-lock"
SYNC_LOCK_TTL = 20  # seconds; a pass takes well under 2 s


class TransientArgoError(Exception):
    """Raised to make Celery retry: Argo was away or busy."""


@contextmanager
def cache_lock(key: str, ttl: int):
    """A best-effort lock in the shared cache (Redis in production): add() is atomic there."""
    acquired = cache.add(key, "1", ttl)
    try:
        yield acquired
    finally:
        if acquired:
            cache.delete(key)


def point_step_urls_here(manifest: dict[str, Any], version_id: Any) -> None:
    """Point the steps' bundle and runner downloads at this app's current public URL.

    A stored manifest carries the URL the app had when the version was imported; the app may
    have moved since (another port, a new host name), and the steps must reach it now."""
    current = {"bundle": bundle_url(version_id), "steprunner": runner_url()}
    for template in (manifest.get("spec") or {}).get("templates") or []:
        for artifact in (template.get("inputs") or {}).get("artifacts") or []:
            http = artifact.get("http")
            if artifact.get("name") in current and http and "/steps/" in http.get("url", ""):
                http["url"] = current[artifact["name"]]


def run_labels(run: Run) -> dict[str, str]:
    labels = {
        "ydpipelines.io/run": str(run.id),
        "ydpipelines.io/pipeline-version": str(run.pipeline_version_id),
    }
    if run.recurring_run_id:
        labels["ydpipelines.io/recurring-run"] = str(run.recurring_run_id)
    return labels


@shared_task(
    bind=True,
    autoretry_for=(TransientArgoError,),
    max_retries=8,
    retry_backoff=2,
    retry_backoff_max=60,
    acks_late=True,
)
def submit_run(self, run_id: str) -> str:
    """Create the run's Workflow. Returns what happened, for logs and tests."""
    run = Run.objects.select_related("pipeline_version").filter(pk=run_id).first()
    if run is None:
        return "gone"
    if run.state != RunState.PENDING or run.submitted_at is not None:
        return "already submitted"
    namespace = run.workflow_namespace or settings.ARGO_NAMESPACE
    try:
        manifest = workflow_for_run(
            run.pipeline_version.manifest,
            name=run.workflow_name,
            namespace=namespace,
            parameters=run.parameters,
            labels=run_labels(run),
        )
    except (ValueError, KeyError) as exc:
        _fail_submit(run, f"Could not prepare the workflow: {exc}")
        return "invalid"
    if run.pipeline_version.source_format == SourceFormat.ELYRA:
        point_step_urls_here(manifest, run.pipeline_version_id)
    client = get_client()
    try:
        created = client.create_workflow(manifest, namespace=namespace)
        outcome = "created"
    except ArgoAlreadyExists:
        # A retried submit (or a worker killed after the create): the workflow is ours already.
        created = client.get_workflow(run.workflow_name, namespace=namespace)
        outcome = "existed"
    except ArgoError as exc:
        if exc.transient:
            Run.objects.filter(pk=run.pk).update(sync_error=str(exc))
            raise TransientArgoError(str(exc)) from exc
        _fail_submit(run, f"Argo refused the workflow: {exc}")
        return "refused"
    Run.objects.filter(pk=run.pk, submitted_at__isnull=True).update(
        submitted_at=timezone.now(),
        workflow_namespace=namespace,
        workflow_uid=(created.get("metadata") or {}).get("uid", ""),
        sync_error="",
    )
    publish_on_commit({run.pk: run.state})  # `run_pipeline --wait` waits for this
    return outcome


def _fail_submit(run: Run, message: str) -> None:
    now = timezone.now()
    updated = Run.objects.filter(pk=run.pk, state=RunState.PENDING).update(
        state=RunState.ERROR, message=message, finished_at=now, last_synced_at=now
    )
    if updated:
        publish_on_commit({run.pk: RunState.ERROR})


@shared_task(acks_late=True, soft_time_limit=SYNC_LOCK_TTL - 3, time_limit=SYNC_LOCK_TTL)
def sync_runs() -> dict[str, Any]:
    """One pass over the active runs. Skips when another pass holds the lock; the lock expires
    soon after a pass's time limit, so a worker killed mid-pass blocks the next ones briefly."""
    with cache_lock(SYNC_LOCK_KEY, ttl=SYNC_LOCK_TTL) as acquired:
        if not acquired:
            return {"skipped": True}
        stats = sync_active_runs(get_client())
    for step_id in stats.pop("finished_step_ids", []):
        enqueue(fetch_outputs, step_id)
    return stats


@shared_task(
    bind=True,
    autoretry_for=(TransientArgoError,),
    max_retries=5,
    retry_backoff=2,
    acks_late=True,
    soft_time_limit=120,
    time_limit=180,
)
def fetch_outputs(self, step_id: int) -> str:
    """Copy a finished step's log and artifacts into the app's storage, once. A permanent
    failure is recorded on the step, so that the reconciler does not queue it forever."""
    try:
        outcome = fetch_step_outputs(get_client(), step_id)
    except ArgoError as exc:
        if exc.transient:
            raise TransientArgoError(str(exc)) from exc
        _record_outputs_error(step_id, exc)
        raise
    except (DatabaseError, SoftTimeLimitExceeded):
        raise  # the database or the clock, not the step: the reconciler tries again
    except Exception as exc:
        _record_outputs_error(step_id, exc)
        raise
    # The run page stays live until every output is copied: tell it this one is.
    publish(dict(Step.objects.filter(pk=step_id).values_list("run_id", "run__state")))
    return outcome


def _record_outputs_error(step_id: int, exc: Exception) -> None:
    logger.exception("step %s: its outputs cannot be copied", step_id)
    message = f"The step's outputs could not be copied: {type(exc).__name__}: {exc}"
    Step.objects.filter(pk=step_id, log_fetched=False).update(outputs_error=message[:2000])


@shared_task
def submit_pending_runs() -> int:
    """Reconciler: runs left Pending without a workflow (a worker lost its submit) are queued
    again. Safe: the submit is idempotent."""
    stale = timezone.now() - timezone.timedelta(seconds=settings.YDP_SUBMIT_STALE_SECONDS)
    ids = list(
        Run.objects.filter(
            state=RunState.PENDING, submitted_at__isnull=True, created_at__lt=stale
        ).values_list("id", flat=True)[:100]
    )
    for run_id in ids:
        enqueue(submit_run, str(run_id))
    return len(ids)


@shared_task
def fetch_missing_outputs() -> int:
    """Reconciler: finished steps whose outputs were never copied (a worker died between the
    sync's commit and queueing the copy, or the copy's retries ran out) are queued again."""
    stale = timezone.now() - timezone.timedelta(seconds=settings.YDP_SUBMIT_STALE_SECONDS)
    ids = list(
        Step.objects.filter(
            log_fetched=False,
            outputs_error="",
            node_type="Pod",
            phase__in=STEP_FINAL_PHASES,
            finished_at__lt=stale,
        ).values_list("pk", flat=True)[:200]
    )
    for step_id in ids:
        enqueue(fetch_outputs, step_id)
    return len(ids)
