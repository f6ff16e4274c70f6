"""A recurring run as an Argo CronWorkflow (Argo v4: `schedules` list, `semaphores` list).

- schedules/timezone from apps.recurring.schedules (a frequency may need several cron lines);
- max concurrent runs 1 -> `concurrencyPolicy: Forbid`; N > 1 -> `Allow` plus a workflow-level
  semaphore counted against key <cron name> of the ConfigMap `ydpipelines-semaphores` (value N,
  written by `set_semaphore_limit` before the CronWorkflow is created or changed);
- catchup off -> a short `startingDeadlineSeconds` (a schedule missed by more is skipped); on ->
  a day (Argo then starts the most recent missed schedule, once);
- disabled -> `suspend: true`; the start and end are enforced by suspending: the CronWorkflow is
  suspended before its start and from its end, and the beat task (apps.recurring.tasks) resumes or
  suspends it as those times come (a few seconds ahead, see WINDOW_LEAD; schedules are on whole
  minutes, so resuming early never lets a schedule before the start through). No `when`
  expression: Argo's would need expr's now()/date(), which the embedded engine does not evaluate;
- `workflowMetadata` labels every spawned workflow with its pipeline version and recurring run,
  which is how the sync and discover_recurring_runs find them.

The cron part is built with Hera's models (imported when one is built, not at app load); the
workflow spec is the version's stored manifest (already rendered by Hera, or an uploaded Argo
YAML kept as is), made ready by workflow_for_run.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings

from apps.orchestration.argo import ArgoClient, ArgoError, ArgoNotFound
from apps.pipelines.constants import SourceFormat
from apps.pipelines.rendering import workflow_for_run
from apps.recurring.schedules import Trigger
from apps.runs.tasks import point_step_urls_here

RECURRING_LABEL = "ydpipelines.io/recurring-run"
VERSION_LABEL = "ydpipelines.io/pipeline-version"
SEMAPHORE_CONFIGMAP = "ydpipelines-semaphores"
STARTING_DEADLINE_NO_CATCHUP = 60
STARTING_DEADLINE_CATCHUP = 24 * 3600
SUCCESSFUL_HISTORY = 5
FAILED_HISTORY = 5
# The beat task checks every 5 s: act this much before a start or an end so that a schedule at
# exactly that minute is taken (start) or not (end).
WINDOW_LEAD = timedelta(seconds=10)
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_PATH = f"{SERVICE_ACCOUNT_DIR}/token"


def cron_workflow_name(recurring: Any) -> str:
    """Argo caps CronWorkflow names at 52 characters (a spawned workflow adds `-<unix time>`)."""
    return f"rr-{recurring.pk.hex}"


def in_window(recurring: Any, now: datetime) -> bool:
    """Whether schedules may fire now (the start has come, the end has not)."""
    if recurring.start_at and now + WINDOW_LEAD < recurring.start_at:
        return False
    return not (recurring.end_at and now + WINDOW_LEAD >= recurring.end_at)


def should_suspend(recurring: Any, now: datetime) -> bool:
    return not recurring.enabled or not in_window(recurring, now)


def semaphore_ref(name: str) -> dict[str, Any]:
    from hera.workflows import models as m  # here, not at app load: see apps.pipelines.rendering

    sync = m.Synchronization(
        semaphores=[
            m.SemaphoreRef(
                config_map_key_ref=m.ConfigMapKeySelector(name=SEMAPHORE_CONFIGMAP, key=name)
            )
        ]
    )
    return sync.model_dump(exclude_none=True, by_alias=True, mode="json")["semaphores"][0]


def render_cron_workflow(
    recurring: Any,
    version: Any,
    *,
    namespace: str,
    now: datetime,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The CronWorkflow manifest (a dict) of a recurring run, with `version` as its pipeline.

    Raises apps.recurring.schedules.ScheduleError for a bad trigger and ValueError for
    parameters the version does not declare."""
    from hera.workflows import models as m  # here, not at app load: see apps.pipelines.rendering

    name = recurring.cron_workflow_name or cron_workflow_name(recurring)
    trigger = Trigger.of(recurring)
    trigger.check()
    labels = {VERSION_LABEL: str(version.pk), RECURRING_LABEL: str(recurring.pk)}
    workflow = workflow_for_run(
        version.manifest,
        name=name,
        namespace=namespace,
        parameters=recurring.parameters if parameters is None else parameters,
        labels=labels,
    )
    if version.source_format == SourceFormat.ELYRA:
        point_step_urls_here(workflow, version.pk)
    workflow_spec = workflow["spec"]
    if recurring.max_concurrency > 1:
        sync = dict(workflow_spec.get("synchronization") or {})
        sync["semaphores"] = [*(sync.get("semaphores") or []), semaphore_ref(name)]
        workflow_spec["synchronization"] = sync
    # The version's own labels (and annotations, e.g. its title) go on every spawned workflow.
    workflow_labels = {**(workflow["metadata"].get("labels") or {}), **labels}
    cron = m.CronWorkflow(
        api_version="argoproj.io/v1alpha1",
        kind="CronWorkflow",
        metadata=m.ObjectMeta(
            name=name,
            namespace=namespace,
            labels={RECURRING_LABEL: str(recurring.pk)},
            annotations={"workflows.argoproj.io/title": recurring.name[:200]},
        ),
        spec=m.CronWorkflowSpec(
            schedules=trigger.schedules(),
            timezone=trigger.timezone,
            concurrency_policy="Forbid" if recurring.max_concurrency == 1 else "Allow",
            starting_deadline_seconds=(
                STARTING_DEADLINE_CATCHUP if recurring.catchup else STARTING_DEADLINE_NO_CATCHUP
            ),
            successful_jobs_history_limit=SUCCESSFUL_HISTORY,
            failed_jobs_history_limit=FAILED_HISTORY,
            suspend=should_suspend(recurring, now),
            workflow_metadata=m.ObjectMeta(
                labels=workflow_labels,
                annotations=workflow["metadata"].get("annotations") or None,
            ),
            workflow_spec=m.WorkflowSpec(),
        ),
    )
    manifest = cron.model_dump(exclude_none=True, by_alias=True, mode="json")
    # The spec is already a checked manifest: keep it as is rather than round-trip it through
    # Hera's models (an uploaded Argo YAML may use fields Hera 7.1 does not know).
    manifest["spec"]["workflowSpec"] = workflow_spec
    return manifest


def set_semaphore_limit(client: ArgoClient, namespace: str, key: str, limit: int) -> None:
    """Write the limit of a recurring run's semaphore (ConfigMap ydpipelines-semaphores, `key`).

    The embedded engine keeps its ConfigMaps behind its own small endpoint (also when ARGO_SERVER
    names the engine explicitly). A real cluster's ConfigMap is a Kubernetes object that the Argo
    Server API cannot write: the app writes it through the Kubernetes API when it runs in the
    cluster (its service account needs `patch` on that ConfigMap), and refuses otherwise so that
    no workflow waits on a missing limit."""
    if not settings.ARGO_EMBEDDED and _in_cluster():
        _patch_cluster_configmap(namespace, key, limit)
        return
    try:
        client._json(  # the engine's one non-Argo endpoint, over the same transport
            "PUT",
            f"/api/v1/localargo/configmaps/{client._ns(namespace)}/{SEMAPHORE_CONFIGMAP}",
            body={"data": {key: str(limit)}},
        )
    except ArgoNotFound:
        # A real Argo Server (no such endpoint) and the app outside the cluster.
        raise ArgoError(
            f"Max concurrent runs above 1 needs key {key}={limit} in ConfigMap "
            f"{SEMAPHORE_CONFIGMAP} (namespace {namespace}), which the app can only write when it "
            "runs inside the cluster. Set it with kubectl, or choose 1."
        ) from None


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.exists(TOKEN_PATH)


def _patch_cluster_configmap(namespace: str, key: str, limit: int) -> None:
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    with open(TOKEN_PATH) as handle:
        token = handle.read().strip()
    url = f"https://{host}:{port}/api/v1/namespaces/{namespace}/configmaps/{SEMAPHORE_CONFIGMAP}"
    try:
        response = requests.patch(
            url,
            json={"data": {key: str(limit)}},
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/merge-patch+json",
            },
            verify=f"{SERVICE_ACCOUNT_DIR}/ca.crt",
            timeout=settings.ARGO_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise ArgoError(f"Kubernetes is unreachable: {exc}", transient=True) from exc
    if response.status_code >= 400:
        raise ArgoError(
            f"Kubernetes refused to set the concurrency limit in ConfigMap {SEMAPHORE_CONFIGMAP}: "
            f"HTTP {response.status_code} {response.text[:200]}",
            status=response.status_code,
        )
