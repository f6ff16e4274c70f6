"""Experiments: list, create, get."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from apps.api import scope
from apps.api.auth import READ, WRITE
from apps.api.errors import ERRORS, ApiError, from_form
from apps.api.schemas import ExperimentIn, ExperimentOut
from apps.experiments.forms import ExperimentForm
from apps.experiments.models import Experiment

router = Router(tags=["experiments"], auth=READ)


def find_experiment(request: HttpRequest, ref: str | int, field: str = "experiment") -> Experiment:
    """An experiment by id or by name (case-insensitive, as names are unique that way)."""
    queryset = scope.experiments(request)
    text = str(ref).strip()
    found = queryset.filter(pk=int(text)).first() if text.isdigit() else None
    if found is None:
        found = queryset.filter(name__iexact=" ".join(text.split())).first()
    if found is None:
        raise ApiError(404, f"No experiment “{text}”.", field)
    return found


@router.get("/experiments", response={200: list[ExperimentOut], **ERRORS})
def list_experiments(
    request: HttpRequest, archived: bool = False, name: str = "", project: str = ""
) -> Any:
    """Active experiments (archived=true: the archived ones), by name; `name` picks one,
    `project` (id or slug) narrows to one project."""
    queryset = scope.in_project(scope.experiments(request), request, project)
    queryset = queryset.filter(archived_at__isnull=not archived)
    if name:
        queryset = queryset.filter(name__iexact=name)
    return list(queryset.order_by("name"))


@router.post("/experiments", response={201: ExperimentOut, **ERRORS}, auth=WRITE)
def create_experiment(request: HttpRequest, payload: ExperimentIn) -> Status:
    data = payload.dict()
    project = scope.target_project(request, str(data.pop("project", "") or ""))
    form = ExperimentForm(data, project_id=project.pk)
    if not form.is_valid():
        error = from_form(form)
        if "already exists" in error.message:
            error.status = 409
        raise error
    experiment = form.save(commit=False)
    experiment.created_by = request.user
    experiment.project = project
    experiment.save()
    return Status(201, experiment)


@router.get("/experiments/{experiment_id}", response={200: ExperimentOut, **ERRORS})
def get_experiment(request: HttpRequest, experiment_id: int) -> Experiment:
    return find_experiment(request, experiment_id)
