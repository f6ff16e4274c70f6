"""Archive, restore and delete an experiment from its page: GET asks for confirmation (the
page without JavaScript), POST acts (services.py moves the runs and recurring runs along)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.experiment_archive import services
from apps.experiments.models import Experiment
from apps.projects import scope
from apps.projects.constants import Role
from ydpipelines.htmx import HtmxHttpRequest


@require_http_methods(["GET", "POST"])
def experiment_archive(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation (the page without JavaScript); POST archives."""
    experiment = scope.get_visible(request, Experiment.objects.all(), role=Role.EDITOR, pk=pk)
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
    experiment = scope.get_visible(request, Experiment.objects.all(), role=Role.EDITOR, pk=pk)
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
    experiment = scope.get_visible(request, Experiment.objects.all(), role=Role.OWNER, pk=pk)
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
