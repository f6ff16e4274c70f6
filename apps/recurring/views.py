"""Recurring-run pages: the list, the create/edit form with its live schedule preview, the
detail page with the schedule's runs, and the actions (enable, disable, run now, delete)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from apps.experiments.models import Experiment
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.projects import scope
from apps.projects.constants import Role
from apps.recurring.forms import PreviewForm, RecurringRunForm, ScheduleForm
from apps.recurring.models import RecurringRun
from apps.recurring.schedules import ScheduleError, Trigger
from apps.recurring.services import (
    RecurringError,
    StaleEdit,
    create_recurring_run,
    delete_recurring_run,
    run_now,
    set_enabled,
    status_of,
    update_recurring_run,
)
from apps.runs.forms import PARAM_PREFIX
from apps.runs.models import Run
from ydpipelines.htmx import HtmxHttpRequest

# The path from a recurring run to its project: its experiment's (apps.projects.scope).
RECURRING_PROJECT = "experiment__project"
PAGE_SIZE = 50
DETAIL_RUNS = 50
NEXT_TIMES = 5


def _run_url_name() -> str | None:
    """runs:detail when the run pages exist (they are built alongside)."""
    try:
        reverse("runs:detail", args=["00000000-0000-0000-0000-000000000000"])
    except NoReverseMatch:
        return None
    return "runs:detail"


def list_queryset():
    """Everything the list shows, in one query: related rows joined, counts and the last run
    as subqueries (no GROUP BY over the joined columns)."""
    runs = Run.objects.filter(recurring_run=OuterRef("pk"))
    latest = runs.order_by("-created_at")
    count = runs.order_by().values("recurring_run").annotate(n=Count("*")).values("n")
    return RecurringRun.objects.select_related(
        "experiment", "pipeline", "pipeline_version"
    ).annotate(
        runs_count=Coalesce(Subquery(count, output_field=IntegerField()), 0),
        last_run_id=Subquery(latest.values("id")[:1]),
        last_run_at=Subquery(latest.values("created_at")[:1]),
        last_run_state=Subquery(latest.values("state")[:1]),
    )


def _decorate(recurring: RecurringRun, now) -> RecurringRun:
    """Status, words and next time, computed without queries."""
    recurring.status = status_of(recurring, now)
    trigger = Trigger.of(recurring)
    recurring.trigger_words = trigger.describe()
    recurring.next_run = None
    if recurring.status in ("active", "scheduled"):
        try:
            upcoming = trigger.next_times(1, now=now)
        except ScheduleError:
            upcoming = []
        recurring.next_run = upcoming[0] if upcoming else None
    return recurring


@require_GET
@vary_on_headers("HX-Request")
def recurring_list(request: HtmxHttpRequest) -> HttpResponse:
    rows = scope.in_current(request, list_queryset(), RECURRING_PROJECT)
    page = Paginator(rows.order_by("-created_at"), PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    for recurring in page.object_list:
        _decorate(recurring, now)
    return render(
        request,
        "recurring/recurring_list.html",
        {"page": page, "run_url_name": _run_url_name()},
    )


def _chosen(source: Any, project_id: int) -> tuple[Pipeline | None, PipelineVersion | None]:
    """The pipeline and version named in GET/POST data (ids), of the project; a version implies
    its pipeline."""
    version = None
    version_id = source.get("version") or ""
    if version_id:
        try:
            version = (
                PipelineVersion.objects.select_related("pipeline")
                .filter(pk=version_id, pipeline__project_id=project_id)
                .first()
            )
        except ValidationError:
            version = None
    pipeline = None
    pipeline_id = source.get("pipeline") or ""
    if pipeline_id.isdigit():
        pipeline = Pipeline.objects.filter(pk=pipeline_id, project_id=project_id).first()
    if pipeline is None and version is not None:
        pipeline = version.pipeline
    if version is not None and pipeline is not None and version.pipeline_id != pipeline.pk:
        version = None  # the pipeline changed: its versions are offered afresh
    return pipeline, version


def _form_page(request: HtmxHttpRequest, recurring: RecurringRun | None = None) -> HttpResponse:
    if recurring is not None:
        project_id: int | None = recurring.experiment.project_id
    else:
        current = scope.current_project(request)
        project_id = current.pk if current else None
    scope.require_role(request, project_id, Role.EDITOR)
    assert project_id is not None
    template = "recurring/recurring_form.html"
    context: dict[str, Any] = {"recurring": recurring}
    if request.method == "POST":
        pipeline, version = _chosen(request.POST, project_id)
        form = RecurringRunForm(
            request.POST, pipeline=pipeline, version=version, project_id=project_id
        )
        if form.is_valid():
            try:
                settings_ = form.to_settings()
                if recurring is None:
                    saved = create_recurring_run(settings_, user=request.user)
                    messages.success(request, f"Recurring run “{saved.name}” created.")
                else:
                    saved = update_recurring_run(recurring, settings_)
                    messages.success(request, f"Recurring run “{saved.name}” saved.")
                return redirect("recurring:detail", saved.pk)
            except ValidationError as exc:
                form.add_parameter_errors(exc)
            except StaleEdit as exc:
                form.add_error(None, str(exc))
                # Saving again (after reading what changed) replaces the other person's edit.
                form.data = form.data.copy()
                form.data["revision"] = str(exc.current.revision)
            except RecurringError as exc:
                form.add_error(None, str(exc))
    elif request.htmx and request.GET.get("refresh"):
        # The pipeline or version changed: redraw that part, keeping the parameter values
        # that still apply.
        pipeline, version = _chosen(request.GET, project_id)
        initial = {
            k: v for k, v in request.GET.items() if k.startswith(PARAM_PREFIX) or k == "version"
        }
        if version is not None:
            initial["version"] = version.pk
        form = RecurringRunForm(
            initial=initial, pipeline=pipeline, version=version, project_id=project_id
        )
        template += "#recurring-dynamic"
    else:
        if recurring is not None:
            initial = RecurringRunForm.initial_for(recurring)
            pipeline, version = recurring.pipeline, recurring.pipeline_version
        else:
            pipeline, version = _chosen(request.GET, project_id)
            initial = {
                "pipeline": pipeline.pk if pipeline else None,
                "version": version.pk if version else None,
                "experiment": request.GET.get("experiment") or None,
                "name": f"{pipeline.name} schedule" if pipeline else "",
            }
        form = RecurringRunForm(
            initial=initial, pipeline=pipeline, version=version, project_id=project_id
        )
    context.update(
        form=form,
        pipeline=form.chosen_pipeline,
        version=form.chosen_version,
        has_pipelines=Pipeline.objects.filter(project_id=project_id).exists(),
        has_experiments=Experiment.objects.filter(
            project_id=project_id, archived_at__isnull=True
        ).exists(),
        preview=form_preview(form),
    )
    return render(request, template, context)


def form_preview(form: ScheduleForm) -> dict[str, Any]:
    """The preview of whatever the form holds (bound or initial)."""
    if form.is_bound:
        data = form.data
    else:
        data = {k: form[k].value() for k in PreviewForm.base_fields if k in form.fields}
        for key in ("start_at", "end_at"):
            # A stored datetime, or the text a request carried (the run form's initial values).
            if hasattr(data.get(key), "strftime"):
                data[key] = data[key].strftime("%Y-%m-%dT%H:%M")
    return schedule_preview(data)


def schedule_preview(data: Any) -> dict[str, Any]:
    form = PreviewForm(
        {k: ("" if data.get(k) is None else data.get(k)) for k in PreviewForm.base_fields}
    )
    if data.get("trigger_type") == "cron" and not (data.get("cron") or "").strip():
        return {"hint": "Type a cron expression: minute hour day-of-month month day-of-week."}
    try:
        trigger = form.trigger()
        return {
            "words": trigger.describe(),
            "times": trigger.next_times(NEXT_TIMES),
            "timezone": trigger.timezone,
            "schedules": trigger.schedules(),
        }
    except ScheduleError as exc:
        return {"error": str(exc)}


@require_http_methods(["GET", "POST"])
def recurring_create(request: HtmxHttpRequest) -> HttpResponse:
    return _form_page(request)


@require_http_methods(["GET", "POST"])
def recurring_edit(request: HtmxHttpRequest, pk) -> HttpResponse:
    recurring = scope.get_visible(
        request,
        RecurringRun.objects.select_related("experiment", "pipeline", "pipeline_version"),
        RECURRING_PROJECT,
        role=Role.EDITOR,
        pk=pk,
    )
    return _form_page(request, recurring)


@require_GET
def recurring_preview(request: HtmxHttpRequest) -> HttpResponse:
    return render(
        request,
        "recurring/_schedule_fields.html#trigger-preview",
        {"preview": schedule_preview(request.GET)},
    )


@require_GET
@vary_on_headers("HX-Request")
def recurring_detail(request: HtmxHttpRequest, pk) -> HttpResponse:
    recurring = scope.get_visible(request, list_queryset(), RECURRING_PROJECT, pk=pk)
    if not request.htmx:
        scope.follow(request, recurring.scope_project_id)  # type: ignore[attr-defined]
    now = timezone.now()
    _decorate(recurring, now)
    trigger = Trigger.of(recurring)
    try:
        upcoming = (
            trigger.next_times(NEXT_TIMES, now=now)
            if recurring.status in ("active", "scheduled")
            else []
        )
        schedules = trigger.schedules()
    except ScheduleError:
        upcoming, schedules = [], []
    runs = list(
        recurring.runs.select_related("pipeline_version").order_by("-created_at")[:DETAIL_RUNS]
    )
    template = "recurring/recurring_detail.html"
    if request.htmx and request.GET.get("part") == "runs":
        # The poll of an active schedule: only its runs table (new runs appear without a reload).
        template += "#rr-runs"
    return render(
        request,
        template,
        {
            "recurring": recurring,
            "upcoming": upcoming,
            "schedules": schedules,
            "runs": runs,
            "run_url_name": _run_url_name(),
        },
    )


def _action(request: HttpRequest, pk, do, success: str) -> HttpResponse:
    recurring = scope.get_visible(
        request, RecurringRun.objects.all(), RECURRING_PROJECT, role=Role.EDITOR, pk=pk
    )
    try:
        result = do(recurring)
    except RecurringError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success.format(name=recurring.name, result=result))
    return redirect("recurring:detail", recurring.pk)


@require_POST
def recurring_enable(request: HttpRequest, pk) -> HttpResponse:
    return _action(request, pk, lambda r: set_enabled(r, True), "“{name}” is enabled.")


@require_POST
def recurring_disable(request: HttpRequest, pk) -> HttpResponse:
    return _action(
        request, pk, lambda r: set_enabled(r, False), "“{name}” is disabled: no new runs start."
    )


@require_POST
def recurring_run_now(request: HttpRequest, pk) -> HttpResponse:
    return _action(request, pk, run_now, "Started {result.name}.")


@require_http_methods(["GET", "POST"])
def recurring_delete(request: HttpRequest, pk) -> HttpResponse:
    recurring = scope.get_visible(
        request,
        RecurringRun.objects.select_related("experiment").annotate(runs_count=Count("runs")),
        RECURRING_PROJECT,
        role=Role.OWNER,
        pk=pk,
    )
    if request.method == "POST":
        try:
            delete_recurring_run(recurring)
        except RecurringError as exc:
            messages.error(request, str(exc))
            return redirect("recurring:detail", recurring.pk)
        messages.success(request, f"Recurring run “{recurring.name}” deleted.")
        return redirect("recurring:list")
    return render(request, "recurring/recurring_confirm_delete.html", {"recurring": recurring})
