"""What an API caller may see: one function per model, each taking the request.

Every queryset the API uses starts here, narrowed by apps.projects.scope (the one home of the
sharing rule) to the caller's projects, and for a token to its project and role. A write
(POST, PUT, PATCH) sees only the projects where the caller is an editor, a DELETE those where it
is an owner: an object the caller may read but not change answers 404 there, as another
project's does, so the write endpoints need no check of their own."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest

from apps.api.errors import ApiError
from apps.experiments.models import Experiment
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.projects import scope as projects
from apps.projects.constants import DEFAULT_SLUG, Role
from apps.projects.models import Project
from apps.recurring.models import RecurringRun
from apps.runs.models import RUN_PROJECT, Artifact, Metric, MetricPoint, Run, Step

_OF_RUN = f"run__{RUN_PROJECT}"
M = TypeVar("M", bound=Model)


def _role(request: HttpRequest) -> str | None:
    if request.method == "DELETE":
        return Role.OWNER
    if request.method in ("POST", "PUT", "PATCH"):
        return Role.EDITOR
    return None


def _visible(request: HttpRequest, queryset: QuerySet[M], path: str) -> QuerySet[M]:
    return projects.visible(request, queryset, path, _role(request))


def pipelines(request: HttpRequest) -> QuerySet[Pipeline]:
    return _visible(request, Pipeline.objects.all(), "project")


def versions(request: HttpRequest) -> QuerySet[PipelineVersion]:
    return _visible(request, PipelineVersion.objects.all(), "pipeline__project")


def experiments(request: HttpRequest) -> QuerySet[Experiment]:
    return _visible(request, Experiment.objects.all(), "project")


def runs(request: HttpRequest) -> QuerySet[Run]:
    return _visible(request, Run.objects.all(), RUN_PROJECT)


def recurring_runs(request: HttpRequest) -> QuerySet[RecurringRun]:
    return _visible(request, RecurringRun.objects.all(), "experiment__project")


def steps(request: HttpRequest) -> QuerySet[Step]:
    return _visible(request, Step.objects.all(), _OF_RUN)


def artifacts(request: HttpRequest) -> QuerySet[Artifact]:
    return _visible(request, Artifact.objects.all(), _OF_RUN)


def metrics(request: HttpRequest) -> QuerySet[Metric]:
    return _visible(request, Metric.objects.all(), _OF_RUN)


def metric_points(request: HttpRequest) -> QuerySet[MetricPoint]:
    return _visible(request, MetricPoint.objects.all(), _OF_RUN)


def target_project(request: HttpRequest, ref: str = "") -> Project:
    """The project a new pipeline or experiment goes to: the one named (id or slug), else the
    token's, else the caller's only project where it is an editor, else the Default project
    if it is an editor there. Raises ApiError otherwise, naming the choices."""
    mine = {p.pk: p for p in projects.projects(request)}
    writable = [p for pk, p in mine.items() if projects.has_role(request, pk, Role.EDITOR)]
    ref = ref.strip()
    if ref:
        found = next((p for p in writable if str(p.pk) == ref or p.slug == ref), None)
        if found is None:
            raise ApiError(404, f"No project “{ref}” you can write to.", "project")
        return found
    token = getattr(request, "api_token", None)
    if token is not None and token.project_id is not None:
        found = next((p for p in writable if p.pk == token.project_id), None)
        if found is not None:
            return found
    if len(writable) == 1:
        return writable[0]
    default = next((p for p in writable if p.slug == DEFAULT_SLUG), None)
    if default is not None:
        return default
    names = ", ".join(p.slug for p in writable) or "none"
    raise ApiError(400, f"Name the project (one of: {names}).", "project")


def in_project(
    queryset: QuerySet[M], request: HttpRequest, ref: str, path: str = "project"
) -> QuerySet[M]:
    """`queryset` narrowed to the project named `ref` (id or slug) among the caller's; all of
    them when `ref` is empty. An unknown project is a 404 naming the field."""
    ref = ref.strip()
    if not ref:
        return queryset
    found = next((p for p in projects.projects(request) if str(p.pk) == ref or p.slug == ref), None)
    if found is None:
        raise ApiError(404, f"No project “{ref}”.", "project")
    return queryset.filter(**{f"{path}_id": found.pk})


def same_project(version: PipelineVersion, experiment: Experiment) -> None:
    """A run's pipeline and experiment belong to one project."""
    if version.pipeline.project_id != experiment.project_id:
        raise ApiError(
            400, "The pipeline and the experiment belong to different projects.", "experiment"
        )
