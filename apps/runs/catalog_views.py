"""The Artifacts and Executions lists: what every step of every run wrote, and every step
(an Argo node) of every run, with filters, counts, sorting and pages.

Each list costs a fixed number of queries whatever the page size: the page (one join, a
keyset page: apps/runs/catalog_pages.py), the capped count and the facet counts (one GROUP
BY; both from the stored counts when they answer), and on a full page the two select boxes'
options. An HTMX request (a filter changed, a page or a sort link) answers the table
partial, with the facet counts swapped out of band. The rows are written in Python
(templatetags/catalog_rows.py), not through the template engine cell by cell."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from apps.pipelines.models import Pipeline
from apps.projects import scope
from apps.runs.catalog_filters import ArtifactFilter, ExecutionFilter
from apps.runs.catalog_pages import CatalogPage, catalog_page
from apps.runs.constants import ArtifactKind, StepPhase
from apps.runs.models import Artifact, Step
from apps.runs.previews import prepare
from apps.runs.templatetags.runs_ui import duration
from ydpipelines.htmx import HtmxHttpRequest

# The columns each table shows, read as dicts (apps/runs/catalog_pages.py).
_RUN_COLUMNS = (
    "run_id",
    "run__name",
    "run__experiment__name",
    "run__pipeline_version_id",
    "run__pipeline_version__name",
    "run__pipeline_version__pipeline_id",
    "run__pipeline_version__pipeline__name",
)
ARTIFACT_COLUMNS = (
    "id",
    "name",
    "kind",
    "size",
    "created_at",
    "step_id",
    "step__display_name",
    *_RUN_COLUMNS,
)
EXECUTION_COLUMNS = (
    "id",
    "display_name",
    "template_name",
    "node_type",
    "phase",
    "message",
    "exit_code",
    "started_at",
    "finished_at",
    "took",
    "resources",
    *_RUN_COLUMNS,
)
_RUN_JOINS = ("run__experiment", "run__pipeline_version__pipeline")
# A retried or looped node is shown as "task(1)"; the run page's graph knows it as "task".
_ATTEMPT_SUFFIX = re.compile(r"\(\d+(?::[^)]*)?\)$")


def node_key(display_name: str) -> str:
    """The run page's graph key of a step: its task name without an attempt suffix."""
    return _ATTEMPT_SUFFIX.sub("", display_name)


def resource_usage(resources: dict[str, Any] | None) -> list[dict[str, str]]:
    """Argo's resourcesDuration in words: CPU in core-seconds (1 = one core for one second),
    memory in 100Mi-seconds (1 = 100 MiB held for one second), as Argo's own UI counts."""
    usage = []
    for key, label, unit in (("cpu", "CPU", "1 core"), ("memory", "mem", "100Mi memory")):
        value = (resources or {}).get(key)
        if isinstance(value, int | float) and value > 0:
            usage.append(
                {
                    "label": label,
                    "text": duration(timedelta(seconds=value)),
                    "title": f"{int(value)} s of {unit}",
                }
            )
    return usage


def _facets(filterset: Any, choices: list[tuple[str, str]], param: str) -> dict[str, Any]:
    counts = filterset.facet_counts()
    chosen = filterset.form.cleaned_data.get(param) if filterset.is_valid() else ""
    items = [{"value": "", "label": "All", "count": sum(counts.values()), "checked": not chosen}]
    items += [
        {"value": value, "label": label, "count": counts.get(value, 0), "checked": chosen == value}
        for value, label in choices
    ]
    return {"items": items, "param": param}


def _filtered(request: HttpRequest, names: tuple[str, ...]) -> bool:
    return any(request.GET.get(name, "").strip() for name in names)


def _template(request: HtmxHttpRequest, page: str, partial: str) -> str:
    # A boosted or history-restore request wants the whole page, not the table.
    if request.htmx and not request.htmx.boosted and not request.htmx.history_restore_request:
        return f"{page}#{partial}"
    return page


def _first_steps(page: CatalogPage, filtered: bool, project_id: int) -> dict[str, bool]:
    """For an empty, unfiltered list: whether there is a pipeline to run yet (one query, only
    then), so that the empty state points at the next thing to do."""
    if page.rows or filtered or page.notice:
        return {}
    return {"has_pipelines": Pipeline.objects.filter(project_id=project_id).exists()}


def _project_id(request: HttpRequest) -> int:
    """The switcher's project: the lists show its rows only (0, none, without a project)."""
    project = scope.current_project(request)
    return project.pk if project else 0


# -- artifacts ----------------------------------------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
def artifact_list(request: HtmxHttpRequest) -> HttpResponse:
    project_id = _project_id(request)
    filterset = ArtifactFilter(
        request.GET,
        queryset=Artifact.objects.filter(run__experiment__project_id=project_id),
        project_id=project_id,
    )
    filtered = _filtered(request, ("q", "run", "kind", "pipeline", "experiment"))
    page = catalog_page(request, filterset, request.path, ARTIFACT_COLUMNS)
    return render(
        request,
        _template(request, "artifacts/artifact_list.html", "artifact-table"),
        {
            "filter": filterset,
            "page": page,
            "facets": _facets(filterset, ArtifactKind.choices, "kind"),
            "filtered": filtered,
            **_first_steps(page, filtered, project_id),
        },
    )


@require_GET
def artifact_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One artifact's preview: the drawer of the list (HTMX) or a page of its own."""
    artifact = scope.get_visible(
        request,
        Artifact.objects.select_related(*_RUN_JOINS, "step").defer(
            "step__log", "step__inputs", "step__outputs"
        ),
        "run__experiment__project",
        pk=pk,
    )
    prepare([artifact], full=True)
    artifact.node_key = node_key(artifact.step.display_name) if artifact.step else ""
    return render(
        request,
        _template(request, "artifacts/artifact_detail.html", "preview"),
        {"artifact": artifact, "run": artifact.run},
    )


# -- executions ---------------------------------------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
def execution_list(request: HtmxHttpRequest) -> HttpResponse:
    project_id = _project_id(request)
    filterset = ExecutionFilter(
        request.GET,
        queryset=Step.objects.filter(run__experiment__project_id=project_id),
        project_id=project_id,
    )
    filtered = _filtered(request, ("q", "run", "phase", "pipeline", "experiment"))
    page = catalog_page(request, filterset, request.path, EXECUTION_COLUMNS)
    return render(
        request,
        _template(request, "executions/execution_list.html", "execution-table"),
        {
            "filter": filterset,
            "page": page,
            "facets": _facets(filterset, StepPhase.choices, "phase"),
            "filtered": filtered,
            **_first_steps(page, filtered, project_id),
            "show_all": bool(request.GET.get("all")),
        },
    )
