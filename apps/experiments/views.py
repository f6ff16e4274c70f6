"""Experiment pages that know only experiments: the list (Active / Archived) and the create form.

Every page needs a login (LoginRequiredMiddleware); HTMX requests for the list get only its
table partial, so search and paging swap the table in place. An experiment's own page is a runs
list (apps/runs/experiment_views.py); archive, restore and delete take its runs and recurring
runs along (apps/experiment_archive)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Max, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from apps.experiments.filters import ExperimentFilter
from apps.experiments.forms import ExperimentForm
from apps.experiments.models import Experiment
from apps.projects import scope
from apps.projects.constants import Role
from ydpipelines.htmx import HtmxHttpRequest

PAGE_SIZE = 20


def experiment_queryset(*, archived: bool) -> QuerySet[Experiment]:
    """Experiments with their run count and last run time, in one query."""
    return (
        Experiment.objects.filter(archived_at__isnull=not archived)
        .annotate(run_count=Count("runs"), last_run_at=Max("runs__created_at"))
        .order_by("-created_at", "-pk")
    )


def _archived_tab(request: HttpRequest) -> bool:
    return request.GET.get("tab") == "archived"


@require_GET
def experiment_list(request: HtmxHttpRequest) -> HttpResponse:
    archived = _archived_tab(request)
    filterset = ExperimentFilter(
        request.GET, queryset=scope.in_current(request, experiment_queryset(archived=archived))
    )
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    template = "experiments/experiment_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#experiment-table"
    return render(
        request,
        template,
        {
            "page": page,
            "archived": archived,
            "query": request.GET.get("q", "").strip(),
            "archived_count": scope.in_current(request, Experiment.objects.all())
            .filter(archived_at__isnull=False)
            .count()
            if not archived
            else None,
        },
    )


@require_http_methods(["GET", "POST"])
def experiment_create(request: HtmxHttpRequest) -> HttpResponse:
    project = scope.current_project(request)
    scope.require_role(request, project.pk if project else None, Role.EDITOR)
    assert project is not None
    if request.method == "POST":
        form = ExperimentForm(request.POST, project_id=project.pk)
        if form.is_valid():
            experiment = form.save(commit=False)
            experiment.project = project
            experiment.created_by = request.user
            experiment.save()
            messages.success(request, f"Created experiment “{experiment.name}”.")
            return redirect(experiment)
    else:
        form = ExperimentForm(project_id=project.pk)
    return render(request, "experiments/experiment_form.html", {"form": form})
