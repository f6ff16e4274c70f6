"""Recurring runs: create, list, get, update, delete, enable/disable, run now."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import HttpRequest
from ninja import Router, Status

from apps.api import scope
from apps.api.auth import READ, WRITE
from apps.api.errors import ARGO_ERRORS, ERRORS, ApiError, from_django
from apps.api.experiments_api import find_experiment
from apps.api.runs_api import get_run, run_out
from apps.api.schemas import RecurringIn, RecurringOut, Ref, RunOut
from apps.orchestration.argo import ArgoError
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.recurring import services as service
from apps.recurring.constants import TriggerType
from apps.recurring.models import RecurringRun

router = Router(tags=["recurring runs"], auth=READ)


def recurring_out(recurring: RecurringRun) -> dict[str, Any]:
    version = recurring.pipeline_version
    return {
        "id": recurring.pk,
        "name": recurring.name,
        "description": recurring.description,
        "experiment": Ref(id=recurring.experiment_id, name=recurring.experiment.name),
        "pipeline": Ref(id=recurring.pipeline_id, name=recurring.pipeline.name),
        "version": Ref(id=str(version.pk), name=version.name) if version else None,
        **{
            name: getattr(recurring, name)
            for name in (
                "trigger_type", "cron", "interval_seconds", "timezone", "start_at", "end_at",
                "max_concurrency", "catchup", "enabled", "parameters", "revision", "created_at",
            )
        },
    }  # fmt: skip


def get_recurring(request: HttpRequest, recurring_id: uuid.UUID) -> RecurringRun:
    found = (
        scope.recurring_runs(request)
        .select_related("experiment", "pipeline", "pipeline_version")
        .defer("pipeline_version__manifest", "pipeline_version__spec")
        .filter(pk=recurring_id)
        .first()
    )
    if found is None:
        raise ApiError(404, f"No recurring run {recurring_id}.")
    return found


def _pipeline(request: HttpRequest, ref: str) -> Pipeline:
    pipelines = scope.pipelines(request)
    found = pipelines.filter(pk=int(ref)).first() if ref.isdigit() else None
    found = found or pipelines.filter(name=ref).first()
    if found is None:
        raise ApiError(404, f"No pipeline “{ref}”.", "pipeline")
    return found


def _version(request: HttpRequest, pipeline: Pipeline, ref: str | None) -> PipelineVersion | None:
    if not ref:
        return None
    versions = scope.versions(request).filter(pipeline=pipeline)
    try:
        found = versions.filter(pk=uuid.UUID(ref)).first()
    except ValueError:
        found = versions.filter(name=ref).first()
    if found is None:
        raise ApiError(404, f"Pipeline “{pipeline.name}” has no version “{ref}”.", "version")
    return found


def _settings(request: HttpRequest, payload: RecurringIn) -> service.Settings:
    name = " ".join(payload.name.split())
    if not name:
        raise ApiError(400, "Give the recurring run a name.", "name")
    if payload.trigger_type not in TriggerType.values:
        raise ApiError(400, "trigger_type is cron or periodic.", "trigger_type")
    pipeline = _pipeline(request, payload.pipeline)
    experiment = find_experiment(request, payload.experiment)
    if pipeline.project_id != experiment.project_id:
        raise ApiError(
            400, "The pipeline and the experiment belong to different projects.", "experiment"
        )
    return service.Settings(
        name=name,
        description=payload.description,
        experiment=experiment,
        pipeline=pipeline,
        pipeline_version=_version(request, pipeline, payload.version),
        trigger_type=payload.trigger_type,
        cron=payload.cron.strip(),
        interval_seconds=payload.interval_seconds,
        timezone=payload.timezone,
        start_at=payload.start_at,
        end_at=payload.end_at,
        max_concurrency=payload.max_concurrency,
        catchup=payload.catchup,
        enabled=payload.enabled,
        parameters=payload.parameters,
        revision=payload.revision,
    )


def _save(call: Any) -> RecurringRun:
    try:
        return call()
    except ValidationError as exc:
        raise from_django(exc) from None
    except service.StaleEdit as exc:
        raise ApiError(409, str(exc), "revision") from None
    except service.RecurringError as exc:
        # Argo refusing or away is the gateway's fault, not the input's.
        status = 502 if isinstance(exc.__cause__, ArgoError) else 400
        raise ApiError(status, str(exc)) from None
    except IntegrityError:
        raise ApiError(400, "The end must come after the start.", "end_at") from None


@router.get("/recurring-runs", response={200: list[RecurringOut], **ERRORS})
def list_recurring(request: HttpRequest, experiment: str = "") -> list[dict[str, Any]]:
    queryset = (
        scope.recurring_runs(request)
        .select_related("experiment", "pipeline", "pipeline_version")
        .defer("pipeline_version__manifest", "pipeline_version__spec")
    )
    if experiment:
        queryset = queryset.filter(experiment=find_experiment(request, experiment))
    return [recurring_out(r) for r in queryset.order_by("-created_at")]


@router.post("/recurring-runs", response={201: RecurringOut, **ARGO_ERRORS}, auth=WRITE)
def create_recurring(request: HttpRequest, payload: RecurringIn) -> Status:
    """A schedule (an Argo CronWorkflow): `cron` with trigger_type=cron, or
    `interval_seconds` with trigger_type=periodic."""
    settings_ = _settings(request, payload)
    saved = _save(lambda: service.create_recurring_run(settings_, user=request.user))
    return Status(201, recurring_out(get_recurring(request, saved.pk)))


@router.get("/recurring-runs/{recurring_id}", response={200: RecurringOut, **ERRORS})
def get_recurring_detail(request: HttpRequest, recurring_id: uuid.UUID) -> dict[str, Any]:
    return recurring_out(get_recurring(request, recurring_id))


@router.put(
    "/recurring-runs/{recurring_id}", response={200: RecurringOut, **ARGO_ERRORS}, auth=WRITE
)
def update_recurring(
    request: HttpRequest, recurring_id: uuid.UUID, payload: RecurringIn
) -> dict[str, Any]:
    """Replace the settings; with `revision`, a schedule changed meanwhile answers 409."""
    recurring = get_recurring(request, recurring_id)
    settings_ = _settings(request, payload)
    _save(lambda: service.update_recurring_run(recurring, settings_))
    return recurring_out(get_recurring(request, recurring_id))


@router.delete("/recurring-runs/{recurring_id}", response={204: None, **ARGO_ERRORS}, auth=WRITE)
def delete_recurring(request: HttpRequest, recurring_id: uuid.UUID) -> Status:
    recurring = get_recurring(request, recurring_id)
    _save(lambda: service.delete_recurring_run(recurring))
    return Status(204, None)


def _enable(request: HttpRequest, recurring_id: uuid.UUID, enabled: bool) -> dict[str, Any]:
    recurring = get_recurring(request, recurring_id)
    _save(lambda: service.set_enabled(recurring, enabled))
    return recurring_out(get_recurring(request, recurring_id))


@router.post(
    "/recurring-runs/{recurring_id}/enable", response={200: RecurringOut, **ARGO_ERRORS}, auth=WRITE
)
def enable(request: HttpRequest, recurring_id: uuid.UUID) -> dict[str, Any]:
    return _enable(request, recurring_id, True)


@router.post(
    "/recurring-runs/{recurring_id}/disable",
    response={200: RecurringOut, **ARGO_ERRORS},
    auth=WRITE,
)
def disable(request: HttpRequest, recurring_id: uuid.UUID) -> dict[str, Any]:
    return _enable(request, recurring_id, False)


@router.post(
    "/recurring-runs/{recurring_id}/run-now", response={201: RunOut, **ARGO_ERRORS}, auth=WRITE
)
def run_now(request: HttpRequest, recurring_id: uuid.UUID) -> Status:
    """Start one run of the schedule now."""
    recurring = get_recurring(request, recurring_id)
    run = _save(lambda: service.run_now(recurring))
    return Status(201, run_out(request, get_run(request, run.pk)))
