"""Recurring runs: the services that keep a RecurringRun row and its Argo CronWorkflow in step.

Every change follows one order: check everything (trigger, parameters, version) before anything is
written; write the row inside a transaction; make the Argo call last inside that transaction. If
Argo refuses or is away, the transaction rolls back and the row is as it was (a RecurringError
carries Argo's words to the page). If the commit itself fails after Argo said yes, the create is
undone on Argo's side.

Also here: turning a workflow that a CronWorkflow spawned into a Run row (`record_spawned_run`),
used by the discover task and by "run now", idempotent under the recurring run's row lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.orchestration.argo import ArgoError, ArgoNotFound, get_client
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.recurring.cron import (
    VERSION_LABEL,
    cron_workflow_name,
    in_window,
    render_cron_workflow,
    set_semaphore_limit,
    should_suspend,
)
from apps.recurring.models import RecurringRun
from apps.recurring.schedules import ScheduleError, Trigger
from apps.runs.constants import RunState
from apps.runs.models import Run
from apps.runs.parameters import resolve_parameters
from apps.runs.sync import run_state_from

logger = logging.getLogger(__name__)


class RecurringError(Exception):
    """Something the user must read: Argo refused or is away, or the settings cannot work."""


class StaleEdit(RecurringError):
    """The recurring run was changed by someone else since this edit started."""

    def __init__(self, current: RecurringRun, differences: list[str]):
        self.current = current
        self.differences = differences
        changed = "; ".join(differences) or "no setting you can see"
        super().__init__(
            f"Someone else saved “{current.name}” while you were editing it, so your changes were "
            f"not saved. Its current values that differ from yours: {changed}. Save again to "
            "replace them with yours."
        )


class RecurringStatus:
    ACTIVE = "active"
    SCHEDULED = "scheduled"
    EXPIRED = "expired"
    DISABLED = "disabled"


def status_of(recurring: RecurringRun, now: datetime | None = None) -> str:
    now = now or timezone.now()
    if recurring.end_at and now >= recurring.end_at:
        return RecurringStatus.EXPIRED
    if not recurring.enabled:
        return RecurringStatus.DISABLED
    if recurring.start_at and now < recurring.start_at:
        return RecurringStatus.SCHEDULED
    return RecurringStatus.ACTIVE


def effective_version(recurring: RecurringRun) -> PipelineVersion:
    """The version a schedule runs: its own, or the pipeline's latest."""
    if recurring.pipeline_version_id:
        return recurring.pipeline_version
    latest = recurring.pipeline.latest_version()
    if latest is None:
        raise RecurringError(f"Pipeline {recurring.pipeline.name!r} has no version to run.")
    return latest


def parameters_for(version: PipelineVersion, given: dict[str, Any]) -> dict[str, str]:
    """The version's parameters with the given values; for "always the latest", values the new
    version no longer declares are dropped. Raises ValidationError keyed by parameter."""
    known = {p["name"] for p in version.parameters}
    return resolve_parameters(version.parameters, {k: v for k, v in given.items() if k in known})


def _model_default(name: str) -> Any:
    return RecurringRun._meta.get_field(name).get_default()


@dataclass(kw_only=True)
class Settings:
    """What a user sets on a recurring run: the one definition of those fields (their order is
    the order a page lists them in). The form fills it, the services apply it to the row
    (`apply`), the admin groups the row's fields by it; defaults are the model's."""

    name: str
    description: str = ""
    experiment: Any
    pipeline: Pipeline
    pipeline_version: PipelineVersion | None  # None: always the pipeline's latest version
    parameters: dict[str, Any] | None = None
    trigger_type: str
    cron: str = ""
    interval_seconds: int | None = None
    timezone: str = _model_default("timezone")
    start_at: datetime | None = None
    end_at: datetime | None = None
    max_concurrency: int = _model_default("max_concurrency")
    catchup: bool = _model_default("catchup")
    enabled: bool = _model_default("enabled")
    # The revision the edit started from; None skips the check (a shell, a script). Not a
    # setting: it says which settings this edit replaces.
    revision: int | None = field(default=None, metadata={"bookkeeping": True})

    def apply(self, recurring: RecurringRun) -> None:
        for name in SETTINGS_FIELDS:
            if name != "parameters":
                setattr(recurring, name, getattr(self, name))
        if recurring.trigger_type == "cron":
            recurring.interval_seconds = None
        else:
            recurring.cron = ""


# The fields a user sets, as RecurringRun names them; everything else on the row is bookkeeping.
SETTINGS_FIELDS = tuple(f.name for f in fields(Settings) if not f.metadata.get("bookkeeping"))


def _prepare(recurring: RecurringRun, given: dict[str, Any]) -> tuple[PipelineVersion, dict]:
    """Check the settings on `recurring` (in memory); returns the version and the CronWorkflow.
    Raises ValidationError (parameters), RecurringError (the rest)."""
    if recurring.pipeline_version_id and recurring.pipeline_version.pipeline_id != (
        recurring.pipeline_id
    ):
        raise RecurringError("The version is not a version of the chosen pipeline.")
    if not 1 <= int(recurring.max_concurrency) <= 10:
        raise RecurringError("Max concurrent runs must be between 1 and 10.")
    try:
        Trigger.of(recurring).check()
    except ScheduleError as exc:
        raise RecurringError(str(exc)) from None
    version = effective_version(recurring)
    if recurring.pipeline_version_id:
        recurring.parameters = resolve_parameters(version.parameters, given)
    else:
        recurring.parameters = parameters_for(version, given)
    namespace = recurring.namespace or settings.ARGO_NAMESPACE
    recurring.namespace = namespace
    recurring.cron_workflow_name = recurring.cron_workflow_name or cron_workflow_name(recurring)
    try:
        manifest = render_cron_workflow(recurring, version, namespace=namespace, now=timezone.now())
    except ValueError as exc:
        raise RecurringError(f"The pipeline version cannot be scheduled: {exc}") from None
    return version, manifest


def _argo_message(action: str, exc: ArgoError) -> str:
    return f"Argo did not {action}: {exc}. Nothing was changed."


def create_recurring_run(settings_: Settings, *, user: Any = None) -> RecurringRun:
    """Create the row and its CronWorkflow, both or neither."""
    recurring = RecurringRun(created_by=user if getattr(user, "is_authenticated", False) else None)
    settings_.apply(recurring)
    _, manifest = _prepare(recurring, settings_.parameters or {})
    client = get_client()
    created = False
    try:
        with transaction.atomic():
            recurring.save()
            if recurring.max_concurrency > 1:
                set_semaphore_limit(
                    client,
                    recurring.namespace,
                    recurring.cron_workflow_name,
                    recurring.max_concurrency,
                )
            client.create_cron_workflow(manifest, namespace=recurring.namespace)
            created = True
    except ArgoError as exc:
        raise RecurringError(_argo_message("create the schedule", exc)) from exc
    except Exception:
        if created:
            _delete_quietly(recurring)
        raise
    return recurring


def update_recurring_run(recurring: RecurringRun, settings_: Settings) -> RecurringRun:
    """Change the settings; the CronWorkflow is replaced in place. Unchanged if Argo refuses."""
    client = get_client()
    with transaction.atomic():
        locked = RecurringRun.objects.select_for_update().get(pk=recurring.pk)
        if settings_.revision is not None and settings_.revision != locked.revision:
            raise StaleEdit(locked, _differences(locked, settings_))
        settings_.apply(locked)
        locked.revision += 1
        _, manifest = _prepare(locked, settings_.parameters or {})
        try:
            current = client.get_cron_workflow(
                locked.cron_workflow_name, namespace=locked.namespace
            )
            # Kubernetes updates are conditional on the version last read.
            version = (current.get("metadata") or {}).get("resourceVersion")
            if version:
                manifest["metadata"]["resourceVersion"] = version
            if locked.max_concurrency > 1:
                set_semaphore_limit(
                    client, locked.namespace, locked.cron_workflow_name, locked.max_concurrency
                )
            locked.save()
            client.update_cron_workflow(manifest, namespace=locked.namespace)
        except ArgoNotFound:
            # Gone from Argo (deleted by hand, a reset engine): the app is the source of truth.
            locked.save()
            try:
                client.create_cron_workflow(manifest, namespace=locked.namespace)
            except ArgoError as exc:
                raise RecurringError(_argo_message("save the schedule", exc)) from exc
        except ArgoError as exc:
            raise RecurringError(_argo_message("save the schedule", exc)) from exc
    return locked


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    return str(value)


def _differences(current: RecurringRun, settings_: Settings) -> list[str]:
    """The current values of the settings that differ from the edit's, in words."""
    mine = RecurringRun()
    settings_.apply(mine)
    found = []
    for name in SETTINGS_FIELDS:
        if name == "parameters":
            stored = current.parameters or {}
            for param, value in (settings_.parameters or {}).items():
                if value not in ("", None) and str(stored.get(param, "")) != str(value):
                    found.append(f"parameter {param} = {_shown(stored.get(param))}")
            continue
        theirs = getattr(current, name)
        if theirs != getattr(mine, name):
            label = RecurringRun._meta.get_field(name).verbose_name
            if name == "pipeline_version" and theirs is None:
                theirs = "always the latest"
            found.append(f"{label} = {_shown(theirs)}")
    return found


def set_enabled(recurring: RecurringRun, enabled: bool) -> RecurringRun:
    """Enable (resume, if within its start and end) or disable (suspend) the schedule."""
    if enabled and recurring.experiment.archived_at is not None:
        raise RecurringError(
            f"Experiment {recurring.experiment.name!r} is archived: restore it before enabling "
            "its recurring runs."
        )
    client = get_client()
    with transaction.atomic():
        locked = RecurringRun.objects.select_for_update().get(pk=recurring.pk)
        locked.enabled = enabled
        locked.revision += 1
        locked.save(update_fields=["enabled", "revision", "updated_at"])
        suspend = should_suspend(locked, timezone.now())
        try:
            if suspend:
                client.suspend_cron_workflow(locked.cron_workflow_name, namespace=locked.namespace)
            else:
                client.resume_cron_workflow(locked.cron_workflow_name, namespace=locked.namespace)
        except ArgoError as exc:
            verb = "enable" if enabled else "disable"
            raise RecurringError(_argo_message(f"{verb} the schedule", exc)) from exc
    return locked


def run_now(recurring: RecurringRun) -> Run:
    """Start one run of the schedule now (Argo's "submit from CronWorkflow")."""
    client = get_client()
    try:
        workflow = client.submit_from_cron(
            recurring.cron_workflow_name, namespace=recurring.namespace
        )
    except ArgoError as exc:
        raise RecurringError(f"Argo did not start the run: {exc}") from exc
    run = record_spawned_run(recurring.pk, workflow)
    if run is None:
        raise RecurringError("Argo started a workflow the app could not record; see the logs.")
    return run


def delete_recurring_run(recurring: RecurringRun) -> None:
    """Delete the CronWorkflow and the row. The runs it started stay in their experiment."""
    client = get_client()
    with transaction.atomic():
        locked = RecurringRun.objects.select_for_update().get(pk=recurring.pk)
        locked.delete()
        try:
            client.delete_cron_workflow(locked.cron_workflow_name, namespace=locked.namespace)
        except ArgoNotFound:
            pass
        except ArgoError as exc:
            raise RecurringError(_argo_message("delete the schedule", exc)) from exc


def _delete_quietly(recurring: RecurringRun) -> None:
    try:
        get_client().delete_cron_workflow(
            recurring.cron_workflow_name, namespace=recurring.namespace
        )
    except ArgoError:
        logger.exception("could not undo CronWorkflow %s", recurring.cron_workflow_name)


# -- spawned workflows -> runs ---------------------------------------------------------------------


def spawned_run_name(recurring: RecurringRun, created: datetime | None) -> str:
    moment = (created or timezone.now()).astimezone(ZoneInfo(recurring.timezone or "UTC"))
    return f"{recurring.name} {moment:%Y-%m-%d %H:%M}"[:200]


def _state_of(workflow: dict[str, Any]) -> str:
    return run_state_from(workflow)[0]


def record_spawned_run(recurring_id: Any, workflow: dict[str, Any]) -> Run | None:
    """The Run row of a workflow that a recurring run's CronWorkflow spawned: created once,
    whoever asks first (discover or run now); both lock the recurring run's row to check."""
    meta = workflow.get("metadata") or {}
    name = meta.get("name")
    if not name:
        return None
    labels = meta.get("labels") or {}
    with transaction.atomic():
        recurring = RecurringRun.objects.select_for_update().filter(pk=recurring_id).first()
        if recurring is None:
            return None
        existing = Run.objects.filter(workflow_name=name).first()
        if existing is not None:
            return existing
        version = PipelineVersion.objects.filter(pk=labels.get(VERSION_LABEL)).first()
        if version is None:
            logger.warning(
                "workflow %s names an unknown version %s", name, labels.get(VERSION_LABEL)
            )
            return None
        created = parse_datetime(meta.get("creationTimestamp") or "") or timezone.now()
        state = _state_of(workflow)
        return Run.objects.create(
            name=spawned_run_name(recurring, created),
            experiment_id=recurring.experiment_id,
            pipeline_version=version,
            parameters=recurring.parameters,
            state=state if state in (RunState.PENDING, RunState.RUNNING) else RunState.RUNNING,
            workflow_name=name,
            workflow_namespace=meta.get("namespace") or recurring.namespace,
            workflow_uid=meta.get("uid") or "",
            recurring_run=recurring,
            submitted_at=created,
            created_by=recurring.created_by,
            progress_total=version.node_count,
        )


__all__ = [
    "SETTINGS_FIELDS",
    "RecurringError",
    "RecurringStatus",
    "Settings",
    "StaleEdit",
    "ValidationError",
    "create_recurring_run",
    "delete_recurring_run",
    "effective_version",
    "in_window",
    "record_spawned_run",
    "run_now",
    "set_enabled",
    "status_of",
    "update_recurring_run",
]
