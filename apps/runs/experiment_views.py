"""An experiment's page: the runs list of /runs/ scoped to the experiment. Its URL stays
/experiments/<pk>/, in the experiments namespace put together in apps/experiment_archive/urls.py."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.experiments.models import Experiment
from apps.projects import scope
from apps.runs.list_views import render_listing, run_listing
from apps.runs.queries import run_list_queryset
from ydpipelines.htmx import HtmxHttpRequest


@require_GET
def experiment_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The experiment and its runs: the runs list of /runs/ (filters, metric columns, sort,
    keyset pages, selection), scoped to the experiment, with Runs / Archived runs tabs."""
    experiment = scope.get_visible(request, Experiment.objects.select_related("created_by"), pk=pk)
    if not request.htmx:
        scope.follow(request, experiment.project_id)
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
    if "m_name" in request.GET and not (request.htmx and not request.htmx.boosted):
        # The "add a metric filter" row without JavaScript: show the canonical URL.
        return HttpResponseRedirect(canonical)
    return render_listing(
        request,
        "experiments/experiment_detail.html",
        listing,
        canonical,
        {
            "experiment": experiment,
            "filter": filterset,
            "archived_runs": archived_runs,
            "create_run_url": f"{reverse('runs:create')}?experiment={experiment.pk}",
        },
    )
