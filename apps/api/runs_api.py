"""Runs: create, list (the runs list's filters, metric predicates, sorts and keyset pages),
get, terminate, retry, clone, archive, restore; their steps, logs, artifacts and metrics."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    QueryDict,
    StreamingHttpResponse,
)
from ninja import Query, Router, Status

from apps.api import scope
from apps.api.auth import READ, WRITE
from apps.api.errors import ARGO_ERRORS, ERRORS, ApiError, from_django
from apps.api.experiments_api import find_experiment
from apps.api.schemas import (
    ActionOut,
    ArtifactOut,
    CloneIn,
    MetricHistoryOut,
    MetricOut,
    Ref,
    RunIn,
    RunOut,
    RunPageOut,
    StepOut,
)
from apps.orchestration.argo import ArgoError, ArgoNotFound, get_client
from apps.pipelines.services import VersionNotFound, find_version
from apps.projects import scope as projects
from apps.runs import actions, archive, queries
from apps.runs.artifact_views import protect
from apps.runs.filters import RunListFilter
from apps.runs.models import Run, Step
from apps.runs.services import create_run

router = Router(tags=["runs"], auth=READ)
MAX_PAGE = 100
FOLLOW_READ_TIMEOUT = 3600.0  # seconds a followed log may stay quiet


def run_out(request: HttpRequest, run: Run) -> dict[str, Any]:
    version = run.pipeline_version
    return {
        "id": run.pk,
        "name": run.name,
        "description": run.description,
        "state": run.state,
        "message": run.message,
        "experiment": Ref(id=run.experiment_id, name=run.experiment.name),
        "pipeline": Ref(id=version.pipeline_id, name=version.pipeline.name),
        "version": Ref(id=str(version.pk), name=version.name),
        "parameters": run.parameters or {},
        "recurring_run_id": run.recurring_run_id,
        "cloned_from_id": run.cloned_from_id,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "archived_at": run.archived_at,
        "progress_done": run.progress_done,
        "progress_total": run.progress_total,
        "outputs_pending": run.outputs_pending,
        "url": request.build_absolute_uri(run.get_absolute_url()),
    }


def get_run(request: HttpRequest, run_id: uuid.UUID) -> Run:
    run = (
        scope.runs(request)
        .select_related("experiment", "pipeline_version__pipeline")
        .defer("pipeline_version__manifest", "pipeline_version__spec")
        .annotate(outputs_pending=queries.outputs_pending_exists())
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        raise ApiError(404, f"No run {run_id}.")
    return run


def _start(request: HttpRequest, **kwargs: Any) -> Run:
    try:
        return create_run(user=request.user, **kwargs)
    except ValidationError as exc:
        raise from_django(exc) from None


# -- create, list, get ----------------------------------------------------------------------


@router.post("/runs", response={201: RunOut, **ERRORS}, auth=WRITE)
def create_one_off(request: HttpRequest, payload: RunIn) -> Status:
    """Start a run of a version in an experiment; parameters are checked against the version's
    declared types (missing ones take their defaults)."""
    experiment = find_experiment(request, payload.experiment)
    pipelines = scope.pipelines(request)
    if not _is_uuid(payload.version):
        # A pipeline's name is unique within its project: look in the experiment's.
        pipelines = pipelines.filter(project_id=experiment.project_id)
    try:
        version = find_version(
            payload.version, pipelines=pipelines, versions=scope.versions(request)
        )
    except VersionNotFound as exc:
        raise ApiError(404, str(exc), "version") from None
    scope.same_project(version, experiment)
    run = _start(
        request,
        version=version,
        experiment=experiment,
        parameters=payload.parameters,
        name=payload.name,
        description=payload.description,
    )
    return Status(201, run_out(request, get_run(request, run.pk)))


@router.get("/runs", response={200: RunPageOut, **ERRORS})
def list_runs(
    request: HttpRequest,
    q: str = "",
    state: list[str] = Query([]),  # noqa: B008 - ninja's way to declare a repeated parameter
    experiment: str = "",
    pipeline: str = "",
    version: str = "",
    recurring: str = "",
    created_after: str = "",
    created_before: str = "",
    m: list[str] = Query(  # noqa: B008
        [], description="Metric predicates, e.g. accuracy:gt:0.9 (gt, gte, lt, lte, eq)."
    ),
    sort: str = Query(
        queries.DEFAULT_SORT,
        description="name, state, experiment, pipeline, created, "
        "duration or m:<metric>; a leading - sorts descending.",
    ),
    size: int = queries.DEFAULT_PAGE_SIZE,
    after: str = "",
    before: str = "",
    archived: bool = False,
    metrics: str = Query("", description="Comma-separated metric names to include."),
) -> dict[str, Any]:
    """The runs list as the page filters, sorts and pages it (one page per call: follow
    `next_cursor` with `after`)."""
    if not 1 <= size <= MAX_PAGE:
        raise ApiError(400, f"size is 1 to {MAX_PAGE}.", "size")
    data = QueryDict(mutable=True)
    given = {
        "q": q, "experiment": experiment, "pipeline": pipeline, "version": version,
        "recurring": recurring, "created_after": created_after, "created_before": created_before,
    }  # fmt: skip
    for name, value in given.items():
        if value:
            data[name] = value
    data.setlist("state", state)
    data.setlist("m", m)
    runs = scope.runs(request).filter(archived_at__isnull=not archived)
    parsed = queries.Sort.parse(sort)
    filterset = RunListFilter(
        data,
        queryset=runs,
        archived=archived,
        project_ids=projects.project_ids(request),
        sort_metric=parsed.metric if parsed is not None else None,
    )
    if not filterset.is_valid():
        field, errors = next(iter(filterset.form.errors.items()))
        raise ApiError(400, f"{field}: {errors[0]}", field)
    if parsed is None:
        raise ApiError(400, f"sort: “{sort}” is not a column or m:<metric>.", "sort")
    start = queries.Cursor.decode(after, parsed) if after else None
    end = queries.Cursor.decode(before, parsed) if before else None
    if (after and start is None) or (before and end is None):
        raise ApiError(400, "The cursor is not one this sort gave.", "after" if after else "before")
    page = queries.fetch_page(
        filterset.qs,
        parsed,
        size,
        after=start,
        before=end,
        hints=filterset.metric_hints(),
        outputs_pending=True,
    )
    names = [n.strip() for n in metrics.split(",") if n.strip()][: queries.MAX_METRIC_COLUMNS]
    values = queries.metric_values([row.pk for row in page.runs], names)
    items = []
    for row in page.runs:
        version_ref = row.pipeline_version
        items.append(
            {
                "id": row.pk,
                "name": row.name,
                "state": row.state,
                "experiment": Ref(id=row.experiment.pk, name=row.experiment.name),
                "pipeline": Ref(id=version_ref.pipeline.pk, name=version_ref.pipeline.name),
                "version": Ref(id=str(version_ref.pk), name=version_ref.name),
                "created_at": row.created_at,
                "started_at": row.started_at,
                "finished_at": row.finished_at,
                "archived_at": row.archived_at,
                "progress_done": row.progress_done,
                "progress_total": row.progress_total,
                "outputs_pending": row.outputs_pending,
                "metrics": {k: v[0] for k, v in values.get(row.pk, {}).items()},
            }
        )
    return {
        "items": items,
        "next_cursor": page.next_cursor,
        "previous_cursor": page.previous_cursor,
    }


@router.get("/runs/{run_id}", response={200: RunOut, **ERRORS})
def get_run_detail(request: HttpRequest, run_id: uuid.UUID) -> dict[str, Any]:
    return run_out(request, get_run(request, run_id))


# -- actions --------------------------------------------------------------------------------


def _action(request: HttpRequest, run_id: uuid.UUID, act: Any) -> dict[str, Any]:
    run = get_run(request, run_id)
    try:
        message = act(run, request.user)
    except actions.ActionError as exc:
        raise ApiError(409 if exc.conflict else 502, str(exc)) from None
    return {"message": message, "run": run_out(request, get_run(request, run_id))}


@router.post("/runs/{run_id}/terminate", response={200: ActionOut, **ARGO_ERRORS}, auth=WRITE)
def terminate(request: HttpRequest, run_id: uuid.UUID) -> dict[str, Any]:
    """Stop a Pending or Running run (409 for any other)."""
    return _action(request, run_id, actions.terminate_run)


@router.post("/runs/{run_id}/retry", response={200: ActionOut, **ARGO_ERRORS}, auth=WRITE)
def retry(request: HttpRequest, run_id: uuid.UUID) -> dict[str, Any]:
    """Run a Failed or Error run's failed steps again (409 for any other)."""
    return _action(request, run_id, actions.retry_run)


def _archive_action(request: HttpRequest, run_id: uuid.UUID, service: Any) -> dict[str, Any]:
    run = get_run(request, run_id)
    outcome = service([run.pk])
    if outcome.skipped:
        _, reason = outcome.skipped[0]
        raise ApiError(409, f"“{run.name}” {reason}.")
    if outcome.missing:
        raise ApiError(404, f"No run {run_id}.")
    done = "Archived." if service is archive.archive_runs else "Restored."
    return {"message": done, "run": run_out(request, get_run(request, run_id))}


@router.post("/runs/{run_id}/archive", response={200: ActionOut, **ERRORS}, auth=WRITE)
def archive_run(request: HttpRequest, run_id: uuid.UUID) -> dict[str, Any]:
    return _archive_action(request, run_id, archive.archive_runs)


@router.post("/runs/{run_id}/restore", response={200: ActionOut, **ERRORS}, auth=WRITE)
def restore_run(request: HttpRequest, run_id: uuid.UUID) -> dict[str, Any]:
    return _archive_action(request, run_id, archive.restore_runs)


@router.post("/runs/{run_id}/clone", response={201: RunOut, **ERRORS}, auth=WRITE)
def clone_run(request: HttpRequest, run_id: uuid.UUID, payload: CloneIn) -> Status:
    """A new run of the same version with the same parameters (less those given)."""
    source = get_run(request, run_id)
    experiment = (
        find_experiment(request, payload.experiment) if payload.experiment else source.experiment
    )
    scope.same_project(source.pipeline_version, experiment)
    run = _start(
        request,
        version=source.pipeline_version,
        experiment=experiment,
        parameters={**(source.parameters or {}), **payload.parameters},
        name=payload.name or f"Clone of {source.name}"[:200],
        description=source.description,
        cloned_from=source,
    )
    return Status(201, run_out(request, get_run(request, run.pk)))


# -- steps, logs, artifacts, metrics --------------------------------------------------------


@router.get("/runs/{run_id}/steps", response={200: list[StepOut], **ERRORS})
def list_steps(request: HttpRequest, run_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every node Argo reported (pods, DAG and retry nodes), in the order they started."""
    run = get_run(request, run_id)
    steps = scope.steps(request).filter(run=run).defer("log", "inputs", "outputs")
    return [
        {
            "id": s.pk, "node_id": s.node_id, "name": s.name, "display_name": s.display_name,
            "template_name": s.template_name, "type": s.node_type, "phase": s.phase,
            "message": s.message, "exit_code": s.exit_code, "pod_name": s.pod_name,
            "started_at": s.started_at, "finished_at": s.finished_at,
        }
        for s in steps.order_by("started_at", "id")
    ]  # fmt: skip


def _follow(run: Run, step: Step) -> Iterator[bytes]:
    client = get_client()
    try:
        for line in client.iter_log(
            run.workflow_name,
            pod_name=step.pod_name,
            namespace=run.workflow_namespace or None,
            follow=True,
            timeout=FOLLOW_READ_TIMEOUT,
        ):
            yield (line + "\n").encode()
    except ArgoError as exc:
        yield f"\n[ydp: the log stream ended: {exc}]\n".encode()


@router.get(
    "/runs/{run_id}/steps/{step_id}/log",
    response={200: str, **ARGO_ERRORS},
    openapi_extra={"responses": {200: {"content": {"text/plain": {"schema": {"type": "string"}}}}}},
)
def step_log(request: HttpRequest, run_id: uuid.UUID, step_id: int, follow: bool = False) -> Any:
    """The step's log as text: the app's copy once the step has ended, else Argo's live log;
    `follow=true` streams it while the step runs, to its end."""
    run = get_run(request, run_id)
    step = scope.steps(request).filter(run=run, pk=step_id).defer("log").first()
    if step is None:
        raise ApiError(404, f"Run {run_id} has no step {step_id}.")
    if step.log_fetched:
        text = Step.objects.filter(pk=step.pk).values_list("log", flat=True).first() or ""
        return _text(text)
    if not step.pod_name and step.node_type != "Pod":
        raise ApiError(404, f"Step “{step.display_name}” is a {step.node_type} node: no log.")
    if follow and not step.is_finished:
        response = StreamingHttpResponse(_follow(run, step), content_type="text/plain")
        response["X-Accel-Buffering"] = "no"  # a proxy must pass lines on as they come
        return response
    try:
        text = get_client().get_log(
            run.workflow_name, pod_name=step.pod_name, namespace=run.workflow_namespace or None
        )
    except ArgoNotFound:
        text = ""
    except ArgoError as exc:
        raise ApiError(502, f"Could not read the live log: {exc}") from None
    return _text(text)


def _text(text: str) -> HttpResponse:
    if text and not text.endswith("\n"):
        text += "\n"
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@router.get("/runs/{run_id}/artifacts", response={200: list[ArtifactOut], **ERRORS})
def list_artifacts(request: HttpRequest, run_id: uuid.UUID) -> list[dict[str, Any]]:
    run = get_run(request, run_id)
    rows = (
        scope.artifacts(request)
        .filter(run=run)
        .select_related("step")
        .only(
            "id", "name", "kind", "size", "media_type", "file", "created_at", "step__display_name"
        )
        .order_by("id")
    )
    return [
        {
            "id": a.pk, "name": a.name, "kind": a.kind,
            "step": a.step.display_name if a.step else None, "size": a.size,
            "media_type": a.media_type, "has_file": bool(a.file), "created_at": a.created_at,
        }
        for a in rows
    ]  # fmt: skip


@router.get(
    "/runs/{run_id}/artifacts/{artifact_id}/download",
    response={200: bytes, **ERRORS},
    openapi_extra={
        "responses": {
            200: {
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                }
            }
        }
    },
)
def download_artifact(request: HttpRequest, run_id: uuid.UUID, artifact_id: int) -> Any:
    """The artifact's stored file, as an attachment (served sandboxed, never rendered)."""
    run = get_run(request, run_id)
    artifact = scope.artifacts(request).filter(run=run, pk=artifact_id).first()
    if artifact is None:
        raise ApiError(404, f"Run {run_id} has no artifact {artifact_id}.")
    if not artifact.file:
        raise ApiError(404, f"Artifact “{artifact.name}” has no stored file.")
    try:
        handle = artifact.file.open("rb")
    except OSError:
        raise ApiError(404, "The artifact's file is missing from storage.") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=artifact.file.name.rsplit("/", 1)[-1] or artifact.name,
        content_type=artifact.media_type or "application/octet-stream",
    )
    return protect(response)


@router.get("/runs/{run_id}/metrics", response={200: list[MetricOut], **ERRORS})
def list_metrics(request: HttpRequest, run_id: uuid.UUID) -> list[dict[str, Any]]:
    """The run's final metric values (from mlpipeline-metrics.json), by name."""
    run = get_run(request, run_id)
    rows = (
        scope.metrics(request)
        .filter(run=run)
        .select_related("step")
        .only("name", "value", "format", "step__display_name")
        .order_by("name", "id")
    )
    return [
        {
            "name": m.name,
            "value": m.value,
            "format": m.format,
            "step": m.step.display_name if m.step else None,
        }
        for m in rows
    ]


@router.get("/runs/{run_id}/metrics/history", response={200: list[MetricHistoryOut], **ERRORS})
def metric_history(
    request: HttpRequest,
    run_id: uuid.UUID,
    name: str = Query("", description="Comma-separated metric names; all when empty."),
) -> list[dict[str, Any]]:
    """Each metric's history as its steps logged it with log_metric (docs/steps.md), every
    stored point (at most 10,000 a run), by name."""
    run = get_run(request, run_id)
    rows = scope.metric_points(request).filter(run=run)
    names = [n.strip() for n in name.split(",") if n.strip()]
    if names:
        rows = rows.filter(name__in=names)
    histories: dict[str, list[dict[str, Any]]] = {}
    for point_name, index, value, logged_at in rows.order_by("name", "index", "pk").values_list(
        "name", "index", "value", "logged_at"
    ):
        histories.setdefault(point_name, []).append(
            {"step": index, "value": value, "time": logged_at}
        )
    return [{"name": n, "points": points} for n, points in histories.items()]


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
