"""Experiment pages: list (Active / Archived), create, detail with its runs, archive, restore.

Every page needs a login (LoginRequiredMiddleware); HTMX requests for a list get only its
table partial, so search and paging swap the table in place."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Max, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import push_url
from django_htmx.middleware import HtmxDetails

from apps.experiments import services
from apps.experiments.filters import ExperimentFilter
from apps.experiments.forms import ExperimentForm
from apps.experiments.models import Experiment
from apps.runs.list_views import run_listing
from apps.runs.queries import run_list_queryset

PAGE_SIZE = 20


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


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
    filterset = ExperimentFilter(request.GET, queryset=experiment_queryset(archived=archived))
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
            "archived_count": Experiment.objects.filter(archived_at__isnull=False).count()
            if not archived
            else None,
        },
    )


@require_http_methods(["GET", "POST"])
def experiment_create(request: HtmxHttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ExperimentForm(request.POST)
        if form.is_valid():
            experiment = form.save(commit=False)
            experiment.created_by = request.user
            experiment.save()
            messages.success(request, f"Created experiment “{experiment.name}”.")
            return redirect(experiment)
    else:
        form = ExperimentForm()
    return render(request, "experiments/experiment_form.html", {"form": form})


@require_GET
def experiment_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The experiment and its runs: the runs list of /runs/ (filters, metric columns, sort,
    keyset pages, selection), scoped to the experiment, with Runs / Archived runs tabs."""
    experiment = get_object_or_404(Experiment.objects.select_related("created_by"), pk=pk)
    runs = run_list_queryset().filter(experiment=experiment)
    archived_runs = request.GET.get("runs") == "archived"
    if not experiment.is_archived:
        # An archived experiment's runs went with it: all of them show, without tabs.
        runs = runs.filter(archived_at__isnull=not archived_runs)
    else:
        archived_runs = False
    listing, filterset, canonical = run_listing(
        request,
        runs,
        base_url=experiment.get_absolute_url(),
        # An archived experiment's page: no per-run Archive/Restore (Restore the experiment).
        archived=None if experiment.is_archived else archived_runs,
        experiment=experiment,
        keep=(("runs", "archived"),) if archived_runs else (),
    )
    partial = bool(request.htmx and not request.htmx.boosted)
    if not partial and "m_name" in request.GET:
        # The "add a metric filter" row without JavaScript: show the canonical URL.
        return HttpResponseRedirect(canonical)
    template = "experiments/experiment_detail.html"
    if partial:
        template += "#run-table"
    response = render(
        request,
        template,
        {
            "experiment": experiment,
            "listing": listing,
            "filter": filterset,
            "oob": partial,
            "archived_runs": archived_runs,
            "create_run_url": f"{reverse('runs:create')}?experiment={experiment.pk}",
        },
    )
    if partial:
        push_url(response, canonical)
    return response


@require_http_methods(["GET", "POST"])
def experiment_archive(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation (the page without JavaScript); POST archives."""
    experiment = get_object_or_404(Experiment, pk=pk)
    if experiment.is_archived:
        messages.info(request, f"“{experiment.name}” is archived already.")
        return redirect(experiment)
    if request.method == "POST":
        try:
            result = services.archive_experiment(experiment)
        except services.ExperimentArchiveError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, result.message(experiment))
        return redirect(experiment)
    active_runs = experiment.runs.filter(archived_at__isnull=True).count()
    return render(
        request,
        "experiments/experiment_confirm.html",
        {
            "experiment": experiment,
            "action": "archive",
            "run_count": active_runs,
            "recurring_count": experiment.recurring_runs.filter(enabled=True).count(),
        },
    )


@require_http_methods(["GET", "POST"])
def experiment_restore(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    experiment = get_object_or_404(Experiment, pk=pk)
    if not experiment.is_archived:
        messages.info(request, f"“{experiment.name}” is not archived.")
        return redirect(experiment)
    if request.method == "POST":
        result = services.restore_experiment(experiment)
        messages.success(request, result.message(experiment))
        return redirect(experiment)
    return render(
        request,
        "experiments/experiment_confirm.html",
        {
            "experiment": experiment,
            "action": "restore",
            "run_count": services.runs_to_restore(experiment),
        },
    )


@require_http_methods(["GET", "POST"])
def experiment_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Only from the archive: GET asks for confirmation, POST deletes for good."""
    experiment = get_object_or_404(Experiment, pk=pk)
    if not experiment.is_archived:
        messages.error(
            request, f"“{experiment.name}” is not archived: archive it first, then delete it."
        )
        return redirect(experiment)
    if request.method == "POST":
        name = experiment.name
        try:
            result = services.delete_experiment(experiment)
        except services.ExperimentArchiveError as exc:
            messages.error(request, str(exc))
            return redirect(experiment)
        messages.success(request, result.message(name))
        return redirect(f"{reverse('experiments:list')}?tab=archived")
    return render(
        request,
        "experiments/experiment_confirm.html",
        {"experiment": experiment, "action": "delete", **services.delete_counts(experiment)},
    )
