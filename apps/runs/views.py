"""Run pages: the run form, the live run page with its step panel, and the actions (the list
is in list_views.py).

Live updates: while a run is active the page asks for `runs:status` each time the server pushes
a change of the run (apps/runs/event_views.py, docs/live.md), and polls it every second while it
cannot hear them. That answer is the header (state, progress, duration, actions) plus, out of
band, a small element carrying the phase of every graph node; runs.js moves those phases onto the
SVG's node classes. The SVG itself is never swapped, so the user's pan, zoom and focus survive
every refresh. Once the run is final (and its outputs are copied) the answer is the final header,
without a trigger, sent with status 286: htmx 2 swaps a 286 like any 2xx answer and then cancels
the poll (and live.js closes the stream)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HTMX_STOP_POLLING

from apps.experiments.models import Experiment
from apps.orchestration.argo import ArgoError, ArgoNotFound, get_client
from apps.orchestration.queue import QUEUE_DOWN_MESSAGE
from apps.pipelines import graph as graph_lib
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.pipelines.parameters import argo_value, display_value
from apps.projects import scope
from apps.projects.constants import Role
from apps.runs import actions, enforcement, queries, run_graph
from apps.runs.constants import StepPhase
from apps.runs.forms import LATEST, RunForm, default_run_name, param_field_name
from apps.runs.metric_history import run_series
from apps.runs.models import Artifact, Metric, Run, Step
from apps.runs.previews import display_order, prepare
from apps.runs.run_types import (
    ONE_OFF,
    Choices,
    RunType,
    RunTypeRefused,
    extra_run_types,
    get_run_type,
    run_type_options,
)
from apps.runs.services import create_run
from ydpipelines.htmx import HtmxHttpRequest

RUN_TABS = ("graph", "output", "details")
STEP_PANELS = ("artifacts", "config", "logs")
LOG_POLL_TIMEOUT = 3.0  # seconds: a live log fetch must not hold a web worker for long
MAX_LOG_CHARS = 400_000  # what the page shows of a log (the tail)
LIVE_LOG_LINES = 2000  # what a live poll asks Argo for
RETRYABLE = actions.RETRYABLE


# The runs list lives in list_views.py.


# -- the run form -------------------------------------------------------------------------------


def _uuid_or_none(value: Any) -> str | None:
    import uuid

    try:
        return str(uuid.UUID(str(value)))
    except (TypeError, ValueError):
        return None


def _int_or_none(value: Any) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() else None


def _choose(raw: Any, project_ids: list[int]) -> tuple[Pipeline | None, PipelineVersion | None]:
    """The pipeline and version the form is about: the version if it belongs to the chosen
    pipeline (or none is chosen), else the pipeline's latest version; of the given projects."""
    version_id = _uuid_or_none(raw.get("version"))
    pipeline_id = _int_or_none(raw.get("pipeline"))
    version = None
    if version_id:
        version = (
            PipelineVersion.objects.filter(pipeline__project__in=project_ids)
            .select_related("pipeline")
            .defer("manifest", "spec")
            .filter(pk=version_id)
            .first()
        )
    if version is not None and pipeline_id in (None, version.pipeline_id):
        return version.pipeline, version
    pipeline = (
        Pipeline.objects.filter(pk=pipeline_id, project__in=project_ids).first()
        if pipeline_id
        else None
    )
    if pipeline is None:
        return None, None
    latest = (
        PipelineVersion.objects.filter(pipeline=pipeline)
        .defer("manifest", "spec")
        .order_by("-created_at")
        .first()
    )
    if latest is not None:
        latest.pipeline = pipeline
    return pipeline, latest


def _clone_values(source: Run) -> dict[str, Any]:
    version = source.pipeline_version
    values: dict[str, Any] = {
        "pipeline": version.pipeline_id,
        "version": str(version.pk),
        "name": f"Clone of {source.name}"[:200],
        "description": source.description,
        "experiment": source.experiment_id if source.experiment.archived_at is None else "",
        "clone": str(source.pk),
    }
    for name, value in (source.parameters or {}).items():
        values[param_field_name(name)] = value
    return values


def _initial(raw: Any, pipeline: Pipeline | None, version: PipelineVersion | None) -> dict:
    """The unbound form's values: what the request carried, the version's parameter defaults
    for what it did not, and a proposed name that follows the version until the user types."""
    initial: dict[str, Any] = {
        "pipeline": pipeline.pk if pipeline else None,
        "version": LATEST if raw.get("version") == LATEST else version.pk if version else None,
        "description": raw.get("description", ""),
        "experiment": _int_or_none(raw.get("experiment")),
        "new_experiment": raw.get("new_experiment", ""),
        "clone": _uuid_or_none(raw.get("clone")),
        "run_type": _run_type(raw),
    }
    name = (raw.get("name") or "").strip()
    auto = raw.get("auto_name") or ""
    if version is not None and (not name or name == auto):
        name = auto = default_run_name(version)
    initial["name"], initial["auto_name"] = name, auto
    for param in version.parameters if version else []:
        key = param_field_name(param["name"])
        kind = param.get("type") or "String"
        value = raw.get(key)
        if value is None or not _fits(kind, value):
            # New in this version, or of another type here (a switched version, a clone of an
            # older one): the declared default rather than a value this version would refuse.
            value = param.get("default")
        initial[key] = display_value(kind, value)
    return initial


def _run_type(raw: Any) -> str:
    value = raw.get("run_type")
    return value if get_run_type(value) is not None else ONE_OFF


def _type_form(run_type: RunType, raw: Any, *, bound: bool) -> Any:
    """A Run type's own fields: bound to the posted data when they are to be checked, else
    showing what the request carried (a no-JS refresh, a link that pre-fills them)."""
    if bound:
        return run_type.form_class(raw)
    names = run_type.form_class.base_fields
    return run_type.form_class(initial={name: raw.get(name) for name in names if raw.get(name)})


def _fits(kind: str, value: Any) -> bool:
    """Whether a carried value is of the parameter's type (an empty one always is)."""
    if value == "":
        return True
    try:
        argo_value(kind, value)
    except ValueError:
        return False
    return True


def _run_project(
    request: HttpRequest, raw: Any, clone_source: Run | None, pipeline: Pipeline | None
) -> int | None:
    """The project a new run goes to: the clone's, else that of the pipeline or experiment the
    link names (among the caller's projects), else the current project."""
    if clone_source is not None:
        return clone_source.experiment.project_id
    if pipeline is not None:
        return pipeline.project_id
    experiment_id = _int_or_none(raw.get("experiment"))
    if experiment_id:
        found = Experiment.objects.filter(pk=experiment_id, project__in=scope.project_ids(request))
        project_id = found.values_list("project_id", flat=True).first()
        if project_id is not None:
            return project_id
    current = scope.current_project(request)
    return current.pk if current else None


@require_http_methods(["GET", "POST"])
def run_create(request: HtmxHttpRequest) -> HttpResponse:
    """GET ?version= / ?pipeline= / ?experiment= / ?clone= prefill the form; an HTMX GET with the
    form's values answers its pipeline/version/parameters part (when the pipeline or version
    changes). POST with `refresh` does the same without JavaScript; POST starts the run."""
    clone_source = None
    raw: Any = request.POST if request.method == "POST" else request.GET
    clone_id = _uuid_or_none(raw.get("clone"))
    selected = raw.getlist("runs") if request.method == "GET" and not clone_id else []
    if selected:
        # "Clone" pressed in a list: the selection must be exactly one run.
        ids = [value for value in ",".join(selected).split(",") if value.strip()]
        clone_id = _uuid_or_none(ids[0]) if len(ids) == 1 else None
        if clone_id is None:
            messages.error(request, f"Select exactly one run to clone ({len(ids)} selected).")
            back = request.headers.get("referer") or ""
            safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})
            return redirect(back if back and safe else reverse("runs:list"))
    if clone_id:
        clone_source = (
            scope.visible(request, Run.objects.all(), "experiment__project")
            .select_related("experiment", "pipeline_version__pipeline")
            .defer("pipeline_version__manifest", "pipeline_version__spec")
            .filter(pk=clone_id)
            .first()
        )
    if clone_id and clone_source is None and request.method == "GET":
        messages.error(request, "The run to clone no longer exists: start a new run instead.")
    if request.method == "GET" and clone_source is not None and "version" not in raw:
        raw = _clone_values(clone_source)
        if clone_source.experiment.archived_at is not None:
            messages.warning(
                request,
                f"The original experiment “{clone_source.experiment.name}” is archived: "
                "choose another experiment for the clone (or restore it first).",
            )
    mine = [clone_source.experiment.project_id] if clone_source else scope.project_ids(request)
    pipeline, version = _choose(raw, mine)
    project_id = _run_project(request, raw, clone_source, pipeline)
    scope.require_role(request, project_id, Role.EDITOR)
    assert project_id is not None
    starting = request.method == "POST" and "refresh" not in request.POST

    run_type = _run_type(raw)
    # Each Run type's own fields; only the chosen type's are checked (One-off ignores them all).
    sections = []
    for kind in extra_run_types():
        type_form = _type_form(kind, raw, bound=starting and kind.value == run_type)
        sections.append({"type": kind, "form": type_form, **kind.context(type_form)})
    if starting:
        form = RunForm(request.POST, pipeline=pipeline, version=version, project_id=project_id)
        if form.is_valid():
            _resolve_latest(form, version)
        chosen = next((s for s in sections if s["type"].value == run_type), None)
        if chosen is not None:
            type_ok = chosen["form"].is_valid()  # checked first: both forms show their errors
            if form.is_valid() and type_ok:
                done = _create_of_type(request, form, chosen["type"], chosen["form"])
                if done is not None:
                    messages.success(request, done[1])
                    return redirect(done[0])
        elif form.is_valid():
            run = _start(request, form, clone_source)
            if run is not None:
                if run.submission.failed:
                    messages.warning(request, f"Created “{run.name}”: {QUEUE_DOWN_MESSAGE}.")
                else:
                    messages.success(request, f"Started “{run.name}”.")
                return redirect(run)
    else:
        form = RunForm(
            initial=_initial(raw, pipeline, version),
            pipeline=pipeline,
            version=version,
            project_id=project_id,
        )

    options = run_type_options()
    template = "runs/run_form.html"
    if request.htmx and request.method == "GET" and request.htmx.target == "run-form-dynamic":
        template += "#run-form-dynamic"
    return render(
        request,
        template,
        {
            "form": form,
            "run_type": run_type,
            "run_types": options,
            "run_type_sections": sections,
            "sections_have_errors": any(section["form"].errors for section in sections),
            "run_type_label": next(o["label"] for o in options if o["value"] == run_type),
            "pipeline": pipeline,
            "version": version,
            "clone_source": clone_source,
            "has_pipelines": pipeline is not None
            or Pipeline.objects.filter(project_id=project_id).exists(),
            "has_experiments": Experiment.objects.filter(
                project_id=project_id, archived_at__isnull=True
            ).exists(),
        },
    )


def _resolve_latest(form: RunForm, version: PipelineVersion | None) -> None:
    """The version chosen must be one of the chosen pipeline's. "Always the latest" runs the
    newest one (`version`, as _choose found it): now for a one-off run, at each start for a
    recurring one (`form.always_latest`)."""
    chosen = form.cleaned_data["version"]
    form.always_latest = chosen == LATEST
    if form.always_latest and version is None:
        form.add_error("version", "This pipeline has no versions to run.")
    elif form.always_latest:
        form.cleaned_data["version"] = version
    elif chosen != version:
        form.add_error("version", "Choose a version of the chosen pipeline.")


def _start(request: HttpRequest, form: RunForm, clone_source: Run | None) -> Run | None:
    """Create the experiment (if new) and the run in one transaction: a refused parameter
    leaves nothing behind. Errors go onto the form; returns None then."""
    data = form.cleaned_data
    version = PipelineVersion.objects.select_related("pipeline").get(pk=data["version"].pk)
    try:
        with transaction.atomic():
            experiment = data["experiment"]
            if data["new_experiment"]:
                experiment = Experiment.objects.create(
                    name=data["new_experiment"], created_by=request.user
                )
            return create_run(
                version=version,
                experiment=experiment,
                parameters=form.parameter_values(),
                name=data["name"],
                description=data["description"],
                user=request.user,
                cloned_from=clone_source,
            )
    except ValidationError as error:
        form.add_parameter_errors(error)
    except IntegrityError:
        form.add_error("new_experiment", "An experiment of that name was created meanwhile.")
    return None


def _create_of_type(
    request: HttpRequest, form: RunForm, run_type: RunType, type_form: Any
) -> tuple[str, str] | None:
    """Create the experiment (if new) and the Run type's object in one transaction: a refusal
    leaves nothing behind. Errors go onto the form; returns None then, else (URL, message)."""
    data = form.cleaned_data
    try:
        with transaction.atomic():
            experiment = data["experiment"]
            if data["new_experiment"]:
                experiment = Experiment.objects.create(
                    name=data["new_experiment"], created_by=request.user
                )
            choices = Choices(
                version=data["version"],
                experiment=experiment,
                name=data["name"],
                description=data["description"],
                parameters=form.parameter_values(),
                user=request.user,
                always_latest=form.always_latest,
            )
            return run_type.create(choices, type_form)
    except ValidationError as error:
        form.add_parameter_errors(error)
    except RunTypeRefused as error:
        form.add_error(None, str(error))
    except IntegrityError:
        form.add_error("new_experiment", "An experiment of that name was created meanwhile.")
    return None


# -- the run page -------------------------------------------------------------------------------


def _get_run(
    request: HttpRequest, pk: Any, *, with_manifest: bool = True, role: str | None = None
) -> Run:
    """The run among the caller's projects (else 404); with `role`, held in its project."""
    queryset = queries.run_detail_queryset()
    if not with_manifest:
        queryset = queryset.defer("pipeline_version__manifest", "pipeline_version__spec")
    return scope.get_visible(request, queryset, "experiment__project", role=role, pk=pk)


@dataclasses.dataclass
class LiveState:
    """What both the page and each poll compute: phases, whether to keep polling, staleness."""

    phases: dict[str, str]
    live: bool
    stale: queries.Staleness | None
    counts: dict[str, int]
    message: str
    found: run_graph.Executions
    graph: graph_lib.Graph | None = None  # the run's graph (iterations drawn), on the page
    # graph key -> why its step waits (the engine's or Kubernetes' reason for a Pending pod)
    waiting: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def shape(self) -> str:
        return self.found.shape


def _live_state(run: Run, graph: graph_lib.Graph | None = None) -> LiveState:
    steps = list(queries.phase_steps_queryset(run))
    found = run_graph.executions(steps)
    if graph is None:
        # The poll does not load the manifest: the names Argo reported stand for the keys
        # (an attempt "task(1)" for "task"); the page ignores names that are not nodes.
        keys = sorted(
            {s.display_name for s in steps}
            | {m.group("key") for s in steps if (m := queries._ATTEMPT.match(s.display_name))}
        )
        chosen = queries.best_steps(steps, keys)
        phases = {key: step.phase for key, step in chosen.items()}
    else:
        graph = run_graph.expand(graph, found)
        keys = [node.key for node in graph.nodes]
        # Iterations past the drawn ones too: the group's phase and their panels need them.
        keys += [key for iterations in found.loops.values() for key in iterations]
        phases = queries.node_phases(run, steps, list(dict.fromkeys(keys)))
    run_graph.add_group_phases(phases, found)
    # One count per step the user sees: iterations and plain steps, not their attempts, groups
    # or "+ N more" nodes.
    counted = [
        key
        for key in phases
        if not queries._ATTEMPT.match(key)
        and key not in found.loops
        and not key.endswith(run_graph.MORE_SUFFIX)
    ]
    counts: dict[str, int] = {}
    for key in counted:
        counts[phases[key]] = counts.get(phases[key], 0) + 1
    unseen = run.pipeline_version.node_count - len({run_graph.task_key(k) for k in counted})
    if graph is None and run.is_finished and unseen > 0:
        counts[StepPhase.OMITTED] = counts.get(StepPhase.OMITTED, 0) + unseen
    live = not run.is_finished or queries.outputs_pending(run, steps)
    waiting = waiting_reasons(run, steps)
    message = readable_message(run, steps) or waiting_message(waiting)
    return LiveState(
        phases, live, queries.staleness(run), counts, message, found, graph, waiting=waiting
    )


def waiting_reasons(run: Run, steps: list[Step]) -> dict[str, str]:
    """Graph key -> why that step is still Pending ("Unschedulable: ... Insufficient cpu ...
    (cpu: requested 4, free 1.5)", "Waiting for the template's parallelism"), while the run
    is active; a retried step's attempt speaks for its node."""
    if run.is_finished:
        return {}
    waiting: dict[str, str] = {}
    for step in steps:
        if step.phase == StepPhase.PENDING and step.message and step.node_type == "Pod":
            waiting.setdefault(queries._ATTEMPT.sub(r"\g<key>", step.display_name), step.message)
    return waiting


def waiting_message(waiting: dict[str, str]) -> str:
    """The banner of an active run whose steps wait: the first one's reason, and how many more."""
    if not waiting:
        return ""
    key, reason = next(iter(sorted(waiting.items())))
    more = len(waiting) - 1
    tail = f" ({more} more step{'s' if more != 1 else ''} waiting)" if more else ""
    return f"Step “{key}” is waiting: {reason}{tail}"


_CHILD_FAILED = re.compile(r"child '([^']+)' failed")


def readable_message(run: Run, steps: list[Step]) -> str:
    """Argo's "child 'run-…-676061193' failed" names a node id; say which step, and why."""
    match = _CHILD_FAILED.search(run.message or "")
    if not match:
        return run.message
    step = next((s for s in steps if s.node_id == match.group(1)), None)
    if step is None:
        return run.message
    # A Retry or DAG node fails because its last child did: name the step the user knows.
    key = queries._ATTEMPT.sub(r"\g<key>", step.display_name)
    reason = f": {step.message}" if step.message else ""
    return f"Step “{key}” failed{reason}"


def _ordered_parameters(run: Run) -> list[tuple[str, Any]]:
    """The run's values in the order the version declares them (JSON columns lose order)."""
    values = dict(run.parameters or {})
    ordered = [
        (p["name"], values.pop(p["name"]))
        for p in run.pipeline_version.parameters or []
        if p.get("name") in values
    ]
    return ordered + sorted(values.items())


def _header_context(run: Run, state: LiveState) -> dict[str, Any]:
    return {
        "run": run,
        "run_message": state.message,
        # Argo counts only the pods it has created so far; the graph shows every node.
        "progress_total": max(run.progress_total, run.pipeline_version.node_count),
        "parameters": _ordered_parameters(run),
        "live": state.live,
        "stale": state.stale,
        "phases": state.phases,
        "waiting": state.waiting,
        "phase_counts": sorted(state.counts.items()),
        "graph_shape": state.shape,
        "can_retry": run.state in RETRYABLE,
    }


@require_GET
def run_detail(request: HtmxHttpRequest, pk: Any) -> HttpResponse:
    tab = request.GET.get("tab", "graph")
    if tab not in RUN_TABS:
        tab = "graph"
    # Only the graph tab needs the manifest (it can be megabytes); the others leave it behind.
    run = _get_run(request, pk, with_manifest=tab == "graph")
    if not request.htmx:
        scope.follow(request, run.scope_project_id)  # type: ignore[attr-defined]
    graph = None
    if tab == "graph":
        version = run.pipeline_version
        graph = graph_lib.graph_from_manifest(version.manifest, version.spec)
    state = _live_state(run, graph)
    graph = state.graph
    context = _header_context(run, state)
    context.update(
        {
            "tab": tab,
            "tab_counts": Run.objects.filter(pk=run.pk)
            .annotate(
                metric_count=Coalesce(
                    Subquery(
                        Metric.objects.filter(run=OuterRef("pk"))
                        .values("run")
                        .annotate(n=Count("pk"))
                        .values("n")
                    ),
                    0,
                ),
                artifact_count=Coalesce(
                    Subquery(
                        Artifact.objects.filter(run=OuterRef("pk"))
                        .values("run")
                        .annotate(n=Count("pk"))
                        .values("n")
                    ),
                    0,
                ),
            )
            .values("metric_count", "artifact_count")
            .first(),
        }
    )
    if graph is not None:
        keys = [node.key for node in graph.nodes]
        context.update(_graph_context(graph, state))
        node = request.GET.get("node")
        if node in keys or node in state.phases:
            panel = _panel_context(request, run, node, request.GET.get("panel"))
            context.update(panel)
    elif tab == "output":
        context["metric_history"] = run_series(run.pk)
        context["metrics"] = list(
            Metric.objects.filter(run=run)
            .select_related("step")
            .only("name", "value", "format", "step__display_name")
        )
        artifacts = (
            Artifact.objects.filter(run=run)
            .select_related("step")
            .only(
                "id", "run_id", "name", "kind", "size", "media_type", "data", "file",
                "created_at", "step__display_name", "step__started_at",
            )
        )  # fmt: skip
        # Step by step in the order they ran; within a step, what it meant to show first.
        ordered = sorted(
            artifacts,
            key=lambda a: (
                a.step.started_at if a.step and a.step.started_at else timezone.now(),
                display_order(a),
            ),
        )
        context["artifacts"] = prepare(ordered, full=False)
    return render(request, "runs/run_detail.html", context)


def _graph_context(graph: graph_lib.Graph, state: LiveState) -> dict[str, Any]:
    return {
        "graph_svg": graph_lib.render_svg(graph, phases=state.phases, notes=state.waiting),
        "graph_shape": state.shape,
        "nodes": [
            {
                "key": n.key, "label": n.label, "kind": n.kind, "badge": n.badge,
                "group": n.group, "phase": state.phases.get(n.key),
            }
            for n in graph.nodes
            if n.kind != "more"
        ],
    }  # fmt: skip


@require_GET
def run_graph_card(request: HtmxHttpRequest, pk: Any) -> HttpResponse:
    """The graph card alone: the page fetches it when the poll says that iterations or
    attempts appeared since it was drawn (the phase poll only recolours nodes)."""
    run = _get_run(request, pk)
    version = run.pipeline_version
    state = _live_state(run, graph_lib.graph_from_manifest(version.manifest, version.spec))
    assert state.graph is not None
    context = {"run": run, **_header_context(run, state), **_graph_context(state.graph, state)}
    return render(request, "runs/run_detail.html#graph-card", context)


@require_GET
def run_status(request: HtmxHttpRequest, pk: Any) -> HttpResponse:
    """The poll: header plus node phases (out of band); 286 once there is nothing left to
    wait for."""
    run = _get_run(request, pk, with_manifest=False)
    state = _live_state(run)
    response = render(request, "runs/run_detail.html#run-status", _header_context(run, state))
    if not state.live:
        response.status_code = HTMX_STOP_POLLING
    return response


# -- the step panel -----------------------------------------------------------------------------


def _node_steps(run: Run, key: str) -> tuple[Step | None, Step | None, list[Step]]:
    """(the Step standing for the node, the Pod that ran it last, all its attempts)."""
    steps = list(
        Step.objects.filter(run=run, display_name__startswith=key).defer("log").order_by("id")
    )
    chosen = queries.best_steps(steps, [key]).get(key)
    attempts = [s for s in steps if queries._rank(s, {key}) is not None]
    pods = [s for s in attempts if s.node_type == "Pod"]
    pod = chosen if chosen is not None and chosen.node_type == "Pod" else None
    if pod is None and pods:
        pod = max(pods, key=lambda s: queries._rank(s, {key})[1][2] * -1)  # type: ignore[index]
    return chosen, pod, attempts


def _phase_of(run: Run, step: Step | None) -> str:
    if step is not None:
        return step.phase
    return StepPhase.OMITTED if run.is_finished else StepPhase.PENDING


def _pod_attempts(attempts: list[Step]) -> list[Step]:
    """A retried node's Pod attempts, first to last."""
    pods = [s for s in attempts if s.node_type == "Pod" and queries._ATTEMPT.match(s.display_name)]
    return sorted(pods, key=lambda s: int(queries._ATTEMPT.match(s.display_name).group("n")))  # type: ignore[union-attr]


def _iterations(run: Run, key: str) -> list[Step]:
    """A looped task's iterations (their own rows: a retried iteration's Retry node)."""
    rows = Step.objects.filter(run=run, display_name__startswith=f"{key}(").defer(
        "log", "inputs", "outputs"
    )
    found = [
        (int(m.group("index")), s)
        for s in rows
        if (m := run_graph.LOOP_ITERATION.match(s.display_name)) and m.group("key") == key
    ]
    return [s for _, s in sorted(found, key=lambda pair: pair[0])]


def _panel_context(request: HttpRequest, run: Run, key: str, panel: str | None) -> dict[str, Any]:
    if key.endswith(run_graph.MORE_SUFFIX):  # "+ N more" opens its looped task's list
        key = key.removesuffix(run_graph.MORE_SUFFIX)
    step, pod, attempts = _node_steps(run, key)
    pod_attempts = _pod_attempts(attempts)
    chosen_attempt = request.GET.get("attempt")
    pod = next((s for s in pod_attempts if s.node_id == chosen_attempt), pod)
    iterations = _iterations(run, key) if step is None else []
    if panel not in STEP_PANELS:
        running = pod is not None and not pod.is_finished
        panel = "logs" if running or chosen_attempt else "artifacts"
    graph = graph_lib.graph_from_manifest(run.pipeline_version.manifest, run.pipeline_version.spec)
    task = run_graph.task_key(key)
    node = next((n for n in graph.nodes if n.key == task), None)
    phase = _phase_of(run, step)
    if iterations:
        phase = run_graph.group_phase(s.phase for s in iterations) or phase
    context: dict[str, Any] = {
        "node_key": key,
        "node": node,
        "node_title": key if key != task else (node.label if node else key),
        "step": step,
        "pod": pod,
        "attempts": attempts,
        "pod_attempts": pod_attempts,
        "chosen_attempt": chosen_attempt if pod and pod.node_id == chosen_attempt else "",
        "iterations": iterations,
        "node_phase": phase,
        "panel": panel,
    }
    if panel == "artifacts":
        holders = [s.pk for s in (step, pod) if s is not None]
        artifacts = sorted(Artifact.objects.filter(step_id__in=holders), key=display_order)
        context["artifacts"] = prepare(artifacts)
        context["step_metrics"] = list(Metric.objects.filter(step_id__in=holders))
        copying = pod is not None and queries.outputs_pending(run, [pod])
        # The panel refreshes itself until the step's outputs are in (or will never come).
        context["artifacts_copying"] = copying
        context["artifacts_poll"] = copying or (
            run.is_active and (pod is None or not pod.is_finished)
        )
    elif panel == "config":
        config = queries.task_config(run.pipeline_version.manifest, task)
        context["config"] = config
        asked = enforcement.requested(config.template if config else {})
        context["requested"] = asked
        note = None
        if pod is not None and pod.started_at:
            log = "" if not pod.log_fetched else _first_line(pod)
            note = enforcement.engine_note(pod.message, log)
        context["engine_note"] = note
        context["not_enforced"] = enforcement.not_enforced(asked, note)
    else:
        context.update(_log_context(run, pod))
    return context


def _first_line(step: Step) -> str:
    """The stored log's first line (where the engine notes an unused image)."""
    log = Step.objects.filter(pk=step.pk).values_list("log", flat=True).first() or ""
    return log.split("\n", 1)[0] or " "


def _log_context(run: Run, pod: Step | None) -> dict[str, Any]:
    """The log to show: the app's copy once fetched; Argo's live log while the step runs (or
    until the copy is in); what is stored, with the reason, when Argo cannot be reached."""
    if pod is None:
        return {"log_text": "", "log_source": "none", "log_live": run.is_active, "log_error": ""}
    if pod.log_fetched:
        log = Step.objects.filter(pk=pod.pk).values_list("log", flat=True).first() or ""
        return {"log_text": _tail(log), "log_source": "stored", "log_live": False, "log_error": ""}
    keep_polling = (
        not pod.is_finished
        or run.is_active
        or (
            run.finished_at is not None and timezone.now() - run.finished_at < queries.OUTPUTS_GRACE
        )
    )
    client = get_client()
    client.config = dataclasses.replace(client.config, timeout=LOG_POLL_TIMEOUT)
    try:
        # The tail only: the page polls every 2 s, and the whole log is copied at the end.
        text = "\n".join(
            client.iter_log(
                run.workflow_name,
                pod_name=pod.pod_name,
                namespace=run.workflow_namespace or None,
                tail_lines=LIVE_LOG_LINES,
            )
        )
    except ArgoNotFound:
        text, error = "", "Argo no longer has this log, and the app has no copy of it."
    except ArgoError as exc:
        text, error = "", f"Could not read the live log: {exc}. Showing what the app has stored."
    else:
        error = ""
    return {
        "log_text": _tail(text),
        "log_source": "live" if not error else "stored",
        "log_live": keep_polling,
        "log_error": error,
    }


def _tail(text: str) -> str:
    if len(text) <= MAX_LOG_CHARS:
        return text
    return "(showing the last 400,000 characters)\n" + text[-MAX_LOG_CHARS:]


@require_GET
def node_panel(request: HtmxHttpRequest, pk: Any, key: str) -> HttpResponse:
    """The side panel of one graph node. Without HTMX, the run page with the panel open."""
    panel = request.GET.get("panel", "")
    if not request.htmx:
        query = {"node": key, **({"panel": panel} if panel else {})}
        return redirect(f"{reverse('runs:detail', args=[pk])}?{urlencode(query)}#step-panel")
    run = _get_run(request, pk)
    context = {"run": run, **_panel_context(request, run, key, panel)}
    if context["node"] is None and context["step"] is None:
        return HttpResponse(
            f"The pipeline has no step “{key}”.",
            status=404,
            content_type="text/plain; charset=utf-8",
        )
    response = render(request, "runs/step_panel.html", context)
    if panel == "artifacts" and request.GET.get("poll") and not context["artifacts_poll"]:
        response.status_code = HTMX_STOP_POLLING
    return response


@require_GET
def node_log(request: HtmxHttpRequest, pk: Any, key: str) -> HttpResponse:
    """The log poll of the side panel: every 2 s while live; 286 with the final text after."""
    run = _get_run(request, pk, with_manifest=False)
    step, pod, attempts = _node_steps(run, key)
    chosen_attempt = request.GET.get("attempt")
    pod_attempts = _pod_attempts(attempts)
    pod = next((s for s in pod_attempts if s.node_id == chosen_attempt), pod)
    context = {
        "pod_attempts": pod_attempts,
        "run": run,
        "node_key": key,
        "step": step,
        "pod": pod,
        "attempts": attempts,
        "node_phase": _phase_of(run, step),
        "chosen_attempt": chosen_attempt if pod and pod.node_id == chosen_attempt else "",
        "oob": True,  # the panel's phase and timing follow the log
        **_log_context(run, pod),
    }
    response = render(request, "runs/step_panel.html#log-view", context)
    if not context["log_live"]:
        response.status_code = HTMX_STOP_POLLING
    return response


# -- actions ------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def run_terminate(request: HtmxHttpRequest, pk: Any) -> HttpResponse:
    run = _get_run(request, pk, with_manifest=False, role=Role.EDITOR)
    if not run.is_active:
        messages.info(request, f"“{run.name}” is {run.state.lower()}: nothing to terminate.")
        return redirect(run)
    if request.method == "GET":
        return render(request, "runs/run_confirm.html", {"run": run, "action": "terminate"})
    try:
        done = actions.terminate_run(run, request.user)
    except actions.ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect(run)


@require_http_methods(["GET", "POST"])
def run_retry(request: HtmxHttpRequest, pk: Any) -> HttpResponse:
    run = _get_run(request, pk, with_manifest=False, role=Role.EDITOR)
    if run.state not in RETRYABLE:
        messages.info(request, f"Only a failed run can be retried; “{run.name}” is {run.state}.")
        return redirect(run)
    if request.method == "GET":
        return render(request, "runs/run_confirm.html", {"run": run, "action": "retry"})
    try:
        done = actions.retry_run(run, request.user)
    except actions.ActionError as exc:
        messages.error(request, str(exc))
    else:
        if done.endswith(f"{QUEUE_DOWN_MESSAGE}."):
            messages.warning(request, done)
        else:
            messages.success(request, done)
    return redirect(run)
