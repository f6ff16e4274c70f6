"""The compare page: /runs/compare/?runs=<id>,<id>,... (2 to 10 runs, from any experiments)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.compare.comparison import (
    LOWER_IS_BETTER_WORDS,
    MAX_RUNS,
    MIN_RUNS,
    CompareError,
    compare,
    parse_selection,
)
from apps.projects import scope
from apps.runs.models import RUN_PROJECT, Run


@require_GET
def compare_runs(request: HttpRequest) -> HttpResponse:
    """Without `runs=` the page says how to choose runs; a selection it cannot compare gets
    the reason with status 400; `diff=1` shows only the parameters that differ."""
    values = request.GET.getlist("runs")
    context = {
        "min_runs": MIN_RUNS,
        "max_runs": MAX_RUNS,
        "lower_words": LOWER_IS_BETTER_WORDS,
        "diff_only": request.GET.get("diff") == "1",
    }
    if not any(value.strip() for value in values):
        return render(request, "compare/compare.html", context)
    try:
        comparison = compare(
            parse_selection(values),
            base_url=request.path,
            visible=scope.visible(request, Run.objects.all(), RUN_PROJECT),
        )
    except CompareError as exc:
        context["error"] = str(exc)
        return render(request, "compare/compare.html", context, status=400)
    selection = ",".join(str(column.run.pk) for column in comparison.columns)
    context.update(
        {
            "comparison": comparison,
            "columns": comparison.columns,
            "selection": selection,
            "charts": comparison.charts(),
        }
    )
    return render(request, "compare/compare.html", context)
