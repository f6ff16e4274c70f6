"""The Artifacts and Executions lists: what every step of every run wrote, and every step
(an Argo node) of every run, with filters, counts, sorting and pages.

Each list costs a fixed number of queries whatever the page size: the page (one join), the
capped count, the facet counts (one GROUP BY), and on a full page the two select boxes'
options. An HTMX request (a filter changed, a page or a sort link) answers the table
partial, with the facet counts swapped out of band."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from apps.pipelines.models import Pipeline
from apps.runs.catalog_filters import ArtifactFilter, ExecutionFilter, with_duration
from apps.runs.constants import ArtifactKind, StepPhase
from apps.runs.models import Artifact, Step
from apps.runs.previews import prepare
from apps.runs.templatetags.runs_ui import duration
from apps.runs.templatetags.short_time import ago

PAGE_SIZES = (10, 20, 50, 100)
DEFAULT_PAGE_SIZE = 20
# Counting stops here: past ten thousand rows, "10,000+" says enough and a COUNT over a big
# table would cost more than the page itself.
COUNT_CAP = 10_000

_RUN_FIELDS = (
    "run__id",
    "run__name",
    "run__experiment__id",
    "run__experiment__name",
    "run__pipeline_version__id",
    "run__pipeline_version__name",
    "run__pipeline_version__pipeline__id",
    "run__pipeline_version__pipeline__name",
)
_RUN_JOINS = ("run__experiment", "run__pipeline_version__pipeline")
# A retried or looped node is shown as "task(1)"; the run page's graph knows it as "task".
_ATTEMPT_SUFFIX = re.compile(r"\(\d+(?::[^)]*)?\)$")


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class CappedPaginator(Paginator):
    """A plain paginator whose count stops at COUNT_CAP (one `COUNT(*)` over a LIMITed
    subquery), so that the last pages of a huge list are out of reach, not slow."""

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: COUNT_CAP + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP

    @cached_property
    def num_pages(self) -> int:
        pages = super().num_pages
        return min(pages, max(1, -(-COUNT_CAP // self.per_page)))

    def page(self, number: Any) -> Page:
        """The page's ids are chosen on the narrow table alone (filter, sort, LIMIT/OFFSET in a
        subquery), and only those rows are joined to their run, experiment and pipeline: one
        query, whose sort does not drag every joined row along."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        ids = self.object_list.values("pk")[bottom : bottom + self.per_page]
        return self._get_page(list(self.object_list.filter(pk__in=ids)), number, self)


def page_size(request: HttpRequest) -> int:
    raw = request.GET.get("size", "")
    return int(raw) if raw.isdigit() and int(raw) in PAGE_SIZES else DEFAULT_PAGE_SIZE


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


def _first_steps(page: Page, filtered: bool) -> dict[str, bool]:
    """For an empty, unfiltered list: whether there is a pipeline to run yet (one query, only
    then), so that the empty state points at the next thing to do."""
    if page.object_list or filtered:
        return {}
    return {"has_pipelines": Pipeline.objects.exists()}


def _paginate(request: HttpRequest, queryset: Any) -> Page:
    return CappedPaginator(queryset, page_size(request)).get_page(request.GET.get("page"))


# -- artifacts ----------------------------------------------------------------------------------


def artifact_queryset():
    """Artifact rows with their run, experiment, pipeline and step in one join; the inline
    chart data (ROC points can be large) stays behind."""
    return Artifact.objects.select_related(*_RUN_JOINS, "step").only(
        "id",
        "name",
        "kind",
        "size",
        "media_type",
        "file",
        "created_at",
        "run_id",
        "step_id",
        "step__id",
        "step__display_name",
        *_RUN_FIELDS,
    )


@require_GET
@vary_on_headers("HX-Request")
def artifact_list(request: HtmxHttpRequest) -> HttpResponse:
    filterset = ArtifactFilter(request.GET, queryset=artifact_queryset())
    filtered = _filtered(request, ("q", "run", "kind", "pipeline", "experiment"))
    page = _paginate(request, filterset.qs)
    now = timezone.now()
    for artifact in page.object_list:
        artifact.node_key = node_key(artifact.step.display_name) if artifact.step else ""
        artifact.ago = ago(artifact.created_at, now)
    return render(
        request,
        _template(request, "artifacts/artifact_list.html", "artifact-table"),
        {
            "filter": filterset,
            "page": page,
            "facets": _facets(filterset, ArtifactKind.choices, "kind"),
            "filtered": filtered,
            **_first_steps(page, filtered),
            "sort": request.GET.get("sort", "") or "-created",
            "page_sizes": PAGE_SIZES,
            "cap": COUNT_CAP,
        },
    )


@require_GET
def artifact_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One artifact's preview: the drawer of the list (HTMX) or a page of its own."""
    artifact = get_object_or_404(
        Artifact.objects.select_related(*_RUN_JOINS, "step").defer(
            "step__log", "step__inputs", "step__outputs"
        ),
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


def execution_queryset():
    """Step rows with their run, experiment and pipeline in one join; logs, inputs and
    outputs stay behind."""
    return with_duration(
        Step.objects.select_related(*_RUN_JOINS).only(
            "id",
            "run_id",
            "node_id",
            "display_name",
            "template_name",
            "node_type",
            "phase",
            "message",
            "exit_code",
            "started_at",
            "finished_at",
            "resources",
            *_RUN_FIELDS,
        )
    )


@require_GET
@vary_on_headers("HX-Request")
def execution_list(request: HtmxHttpRequest) -> HttpResponse:
    filterset = ExecutionFilter(request.GET, queryset=execution_queryset())
    filtered = _filtered(request, ("q", "run", "phase", "pipeline", "experiment"))
    page = _paginate(request, filterset.qs)
    now = timezone.now()
    for step in page.object_list:
        step.node_key = node_key(step.display_name)
        step.ago = ago(step.started_at, now)
        step.usage = resource_usage(step.resources)
    return render(
        request,
        _template(request, "executions/execution_list.html", "execution-table"),
        {
            "filter": filterset,
            "page": page,
            "facets": _facets(filterset, StepPhase.choices, "phase"),
            "filtered": filtered,
            **_first_steps(page, filtered),
            "show_all": bool(request.GET.get("all")),
            "sort": request.GET.get("sort", "") or "-started",
            "page_sizes": PAGE_SIZES,
            "cap": COUNT_CAP,
        },
    )
