"""Pipeline pages: list, upload, pipeline detail, version detail (graph, YAML, parameters, files).

Every page needs a login (LoginRequiredMiddleware); the list renders only its table partial for
HTMX requests, so search and paging swap the table in place."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from typing import Any

import yaml
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, F, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from apps.pipelines import engine_check, services, url_fetch
from apps.pipelines import graph as graph_lib
from apps.pipelines.filters import PipelineFilter
from apps.pipelines.forms import UploadPipelineForm
from apps.pipelines.importers import MissingFilesError, PipelineImportError
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.pipelines.rendering import NODE_ID_ANNOTATION
from apps.pipelines.uploads import too_large_message, upload_too_large
from apps.projects import scope
from apps.projects.constants import Role
from ydpipelines.htmx import HtmxHttpRequest

PAGE_SIZE = 20
VERSION_TABS = ("graph", "yaml", "parameters", "files")
# Columns a version list needs; manifest and spec can be megabytes, so they stay in the database.
VERSION_LIST_FIELDS = (
    "id",
    "pipeline_id",
    "name",
    "description",
    "source_format",
    "node_count",
    "parameters",
    "created_at",
    "created_by__username",
)


def pipeline_queryset() -> QuerySet[Pipeline]:
    """Pipelines with their version count, latest version and last update, in one query."""
    latest = PipelineVersion.objects.filter(pipeline=OuterRef("pk")).order_by("-created_at")
    return Pipeline.objects.annotate(
        version_count=Count("versions"),
        latest_version_id=Subquery(latest.values("id")[:1]),
        latest_version_name=Subquery(latest.values("name")[:1]),
        updated_at=Coalesce(Max("versions__created_at"), F("created_at")),
    ).order_by("-updated_at", "-pk")


@require_GET
@vary_on_headers("HX-Request")
def pipeline_list(request: HtmxHttpRequest) -> HttpResponse:
    filterset = PipelineFilter(request.GET, queryset=scope.in_current(request, pipeline_queryset()))
    queryset = filterset.qs
    # A stable order whatever column is sorted, so that pages never repeat or skip a row.
    queryset = queryset.order_by(*queryset.query.order_by, "-pk")
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    template = "pipelines/pipeline_list.html"
    # Only the table for htmx's own swaps; a boosted link or a history restore needs the page.
    htmx = request.htmx
    if htmx and not htmx.boosted and not htmx.history_restore_request:
        template += "#pipeline-table"
    return render(
        request,
        template,
        {
            "filter": filterset,
            "page": page,
            "query": request.GET.get("q", "").strip(),
            "sort": request.GET.get("sort") or "-updated",
        },
    )


@require_http_methods(["GET", "POST"])
def upload(request: HtmxHttpRequest) -> HttpResponse:
    project = scope.current_project(request)
    scope.require_role(request, project.pk if project else None, Role.EDITOR)
    assert project is not None
    missing: list[str] = []
    if request.method == "POST":
        form = UploadPipelineForm(request.POST, request.FILES, project_id=project.pk)
        if upload_too_large(request):
            form.is_valid()
            form.errors["file"] = form.error_class([too_large_message()])
        elif form.is_valid() and (source := _upload_source(form)) is not None:
            data = form.cleaned_data
            existing = data["target"] == UploadPipelineForm.EXISTING
            try:
                version = services.create_version(
                    upload_name=source[0],
                    data=source[1],
                    pipeline=data["pipeline"] if existing else None,
                    pipeline_name=None if existing else data["name"],
                    version_name=data["version_name"] or None,
                    description=data["description"],
                    user=request.user,
                    allow_missing=data["allow_missing"],
                    project_id=project.pk,
                )
            except MissingFilesError as error:
                # Not an error of the form: the page offers "upload anyway" for these files.
                missing = error.missing
            except PipelineImportError as error:
                form.add_error(None, str(error))
            else:
                # Never blocks the upload: a refusal or an unreachable Argo is shown on the page.
                engine_check.check_version(version)
                messages.success(
                    request,
                    f"Uploaded “{version.pipeline.name}” version “{version.name}” "
                    f"({version.node_count} node{'s' if version.node_count != 1 else ''}).",
                )
                return redirect(version)
    else:
        initial: dict[str, Any] = {}
        pipeline_id = request.GET.get("pipeline", "")
        if pipeline_id.isdigit():
            pipeline = Pipeline.objects.filter(pk=int(pipeline_id), project=project).first()
            if pipeline is not None:
                initial = {"target": UploadPipelineForm.EXISTING, "pipeline": pipeline}
        form = UploadPipelineForm(initial=initial, project_id=project.pk)
    context = {"form": form, "missing": missing, "url_timeout": url_fetch.timeout_seconds()}
    return render(request, "pipelines/upload.html", context)


def _upload_source(form: UploadPipelineForm) -> tuple[str, bytes] | None:
    """The upload's file name and bytes, from the chosen file or fetched from the URL; None
    (with the reason on the URL field) when the URL cannot be fetched."""
    upload_file = form.cleaned_data["file"]
    if upload_file is not None:
        return upload_file.name or "", upload_file.read()
    try:
        fetched = url_fetch.fetch(form.cleaned_data["url"])
    except url_fetch.FetchError as error:
        form.add_error("url", str(error))
        return None
    return fetched.filename, fetched.data


@require_GET
def pipeline_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    pipeline = scope.get_visible(request, Pipeline.objects.all(), pk=pk)
    scope.follow(request, pipeline.project_id)
    versions = (
        PipelineVersion.objects.filter(pipeline=pipeline)
        .select_related("created_by")
        .only(*VERSION_LIST_FIELDS)
        .order_by("-created_at")
    )
    return render(
        request,
        "pipelines/pipeline_detail.html",
        {"pipeline": pipeline, "versions": list(versions), "upload_url": _upload_url(pipeline)},
    )


def _upload_url(pipeline: Pipeline) -> str:
    return f"{reverse('pipelines:upload')}?pipeline={pipeline.pk}"


@dataclass
class BundleFile:
    name: str
    size: int
    compressed: int


def _bundle_files(version: PipelineVersion) -> tuple[list[BundleFile], str]:
    """The files inside the version's bundle zip, and an error text if it cannot be read."""
    if not version.bundle:
        return [], "This version has no stored bundle."
    try:
        with version.bundle.open("rb") as handle, zipfile.ZipFile(handle) as archive:
            files = [
                BundleFile(info.filename, info.file_size, info.compress_size)
                for info in archive.infolist()
                if not info.is_dir()
            ]
    except (OSError, zipfile.BadZipFile) as error:
        return [], f"The bundle could not be read: {error}"
    return sorted(files, key=lambda item: item.name), ""


@dataclass
class NodeDetails:
    """What the graph's side panel says about one node of a version."""

    key: str
    label: str
    kind: str
    template: str
    upstream: list[str]
    downstream: list[str]
    image: str = ""
    command: list[str] | None = None
    resources: dict[str, dict[str, Any]] | None = None
    env: list[tuple[str, str]] | None = None
    retries: Any = None
    timeout: Any = None
    filename: str = ""
    dependencies: list[str] | None = None
    outputs: list[str] | None = None
    parameters: list[str] | None = None


def _node_details(version: PipelineVersion, graph: graph_lib.Graph, key: str) -> NodeDetails | None:
    node = next((item for item in graph.nodes if item.key == key), None)
    if node is None:
        return None
    wf_spec = version.manifest.get("spec") or {}
    template = next(
        (t for t in wf_spec.get("templates") or [] if t.get("name") == node.template), {}
    )
    body = template.get("container") or template.get("script") or {}
    env = []
    for var in body.get("env") or []:
        secret = ((var.get("valueFrom") or {}).get("secretKeyRef")) or {}
        value = f"secret {secret.get('name')}/{secret.get('key')}" if secret else var.get("value")
        env.append((str(var.get("name")), str(value if value is not None else "")))
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    node_id = annotations.get(NODE_ID_ANNOTATION)
    elyra = next(
        (n for n in (version.spec or {}).get("nodes") or [] if node_id and n.get("id") == node_id),
        {},
    )
    return NodeDetails(
        key=node.key,
        label=node.label,
        kind=node.kind,
        template=node.template,
        upstream=[a for a, b in graph.edges if b == key],
        downstream=[b for a, b in graph.edges if a == key],
        image=str(body.get("image") or elyra.get("runtime_image") or ""),
        command=[*(body.get("command") or []), *(body.get("args") or [])] or None,
        resources=body.get("resources") or None,
        env=env or None,
        retries=(template.get("retryStrategy") or {}).get("limit"),
        timeout=template.get("activeDeadlineSeconds"),
        filename=str(elyra.get("filename") or ""),
        dependencies=elyra.get("dependencies") or None,
        outputs=elyra.get("outputs") or None,
        parameters=elyra.get("parameters") or None,
    )


def _create_run_url(version: PipelineVersion) -> str | None:
    """Where "Create run" points, once the runs app provides the page; None until then."""
    return _url_for_version("runs:create", version)


def _url_for_version(name: str, version: PipelineVersion) -> str | None:
    try:
        return f"{reverse(name)}?version={version.pk}"
    except NoReverseMatch:
        return None


# PostgreSQL's jsonb keeps keys in its own order (shortest first), which would put `kind` above
# `apiVersion` and `metadata` under `spec`; the YAML shows keys in the order people write them.
_KEYS_FIRST = (
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "generateName",
    "namespace",
    "labels",
    "annotations",
    "spec",
    "entrypoint",
    "template",
    "dependencies",
    "depends",
    "arguments",
    "inputs",
    "outputs",
)
_KEYS_LAST = ("templates",)
_KEY_RANK = {key: rank for rank, key in enumerate(_KEYS_FIRST)} | {
    key: 1000 + rank for rank, key in enumerate(_KEYS_LAST)
}


def _ordered(value: Any) -> Any:
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: _KEY_RANK.get(key, 500))  # stable for the rest
        return {key: _ordered(value[key]) for key in keys}
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


# libyaml's emitter when PyYAML was built with it: a 1,000-node manifest dumps 3x faster.
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# The YAML tab shows at most this many characters (about 5,000 lines); the download has it all.
YAML_PREVIEW_CHARS = 200_000


def manifest_yaml(version: PipelineVersion) -> str:
    return yaml.dump(
        _ordered(version.manifest),
        Dumper=_YAML_DUMPER,
        sort_keys=False,
        default_flow_style=False,
        width=120,
    )


def _head(value: Any, budget: int) -> tuple[Any, int]:
    """The leading part of `value` that fits in about `budget` characters of YAML, and what is
    left of the budget (negative once something was cut). Dumping all of a big manifest to show
    its first screens would take seconds, since the dumper represents everything first."""
    if isinstance(value, dict):
        head: dict[str, Any] = {}
        for key in sorted(value, key=lambda key: _KEY_RANK.get(key, 500)):  # as _ordered does
            if budget <= 0:
                return head, -1
            head[key], budget = _head(value[key], budget - len(str(key)) - 4)
        return head, budget
    if isinstance(value, list):
        items: list[Any] = []
        for item in value:
            if budget <= 0:
                return items, -1
            part, budget = _head(item, budget - 4)
            items.append(part)
        return items, budget
    return value, budget - len(str(value)) - 2


def manifest_yaml_preview(version: PipelineVersion) -> tuple[str, bool]:
    """The YAML the tab shows, and whether it is only the beginning of the manifest."""
    head, left = _head(version.manifest, YAML_PREVIEW_CHARS)
    text = yaml.dump(head, Dumper=_YAML_DUMPER, sort_keys=False, width=120)
    return text, left < 0


def _get_version(
    request: HttpRequest, pk: int, version_id: Any, *, defer: tuple[str, ...] = ()
) -> PipelineVersion:
    queryset = scope.visible(
        request,
        PipelineVersion.objects.select_related("pipeline", "created_by", "engine_check"),
        "pipeline__project",
    )
    if defer:
        # Pages that do not show them leave the big JSON columns in the database.
        queryset = queryset.defer(*defer)
    return get_object_or_404(queryset, pk=version_id, pipeline_id=pk)


@require_GET
@vary_on_headers("HX-Request")
def version_detail(request: HtmxHttpRequest, pk: int, version_id: Any) -> HttpResponse:
    tab = request.GET.get("tab", "graph")
    if tab not in VERSION_TABS:
        tab = "graph"
    defer = {"graph": (), "yaml": ("spec",), "files": ("manifest",)}.get(tab, ("manifest", "spec"))
    version = _get_version(request, pk, version_id, defer=defer)
    if not request.htmx:
        scope.follow(request, version.pipeline.project_id)
    context: dict[str, Any] = {
        "pipeline": version.pipeline,
        "version": version,
        "tab": tab,
        "tabs": [
            ("graph", "Graph"),
            ("yaml", "YAML"),
            ("parameters", f"Parameters ({len(version.parameters)})"),
            ("files", "Files"),
        ],
        "create_run_url": _create_run_url(version),
        # Recurring is a Run type of the run form.
        "schedule_url": f"{_url_for_version('runs:create', version)}&run_type=recurring",
        "upload_url": _upload_url(version.pipeline),
        "other_versions": PipelineVersion.objects.filter(pipeline_id=pk)
        .only("id", "pipeline_id", "name", "created_at")
        .order_by("-created_at")[:50],
    }
    if tab == "graph":
        graph = graph_lib.graph_from_manifest(version.manifest, version.spec)
        context["graph"] = graph
        node_key = request.GET.get("node", "")
        context["node"] = _node_details(version, graph, node_key) if node_key else None
        if request.htmx and node_key:
            # The side panel of a clicked node: only that part of the page.
            return render(request, "pipelines/version_detail.html#node-panel", context)
        context["graph_svg"] = graph_lib.render_svg(graph)
    elif tab == "yaml":
        context["manifest_yaml"], context["yaml_truncated"] = manifest_yaml_preview(version)
    elif tab == "files":
        context["files"], context["files_error"] = _bundle_files(version)
    if tab in ("graph", "files"):
        # A lone .pipeline file whose nodes need files that were not uploaded: say so up front.
        context["missing_files"] = services.missing_files(version)
        context["import_notes"] = services.import_notes(version)
    context["engine_check"] = engine_check.current_check(version)
    context["engine_name"] = engine_check.engine_name()
    return render(request, "pipelines/version_detail.html", context)


@require_GET
def version_yaml(request: HtmxHttpRequest, pk: int, version_id: Any) -> HttpResponse:
    version = _get_version(request, pk, version_id, defer=("spec",))
    response = HttpResponse(manifest_yaml(version), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        True, f"{version.pipeline.name}-{version.name}.yaml"
    )
    return response


@require_GET
def version_bundle(request: HtmxHttpRequest, pk: int, version_id: Any) -> FileResponse:
    version = _get_version(request, pk, version_id, defer=("manifest", "spec"))
    if not version.bundle:
        raise Http404("This version has no stored bundle.")
    try:
        handle = version.bundle.open("rb")
    except OSError as error:
        raise Http404("The bundle file is missing from storage.") from error
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"{version.pipeline.name}-{version.name}.zip",
        content_type="application/zip",
    )
