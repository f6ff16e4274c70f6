"""Pipelines and their versions: upload, list, spec and rendered manifest."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from ninja import File, Form, Router, Status, UploadedFile

from apps.api import scope
from apps.api.auth import READ, WRITE
from apps.api.errors import ERRORS, ApiError
from apps.api.schemas import PipelineList, PipelineOut, Ref, VersionOut
from apps.pipelines.importers import PipelineImportError
from apps.pipelines.importers.bundle import max_upload_bytes
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.pipelines.services import create_version
from apps.pipelines.uploads import too_large_message, upload_too_large
from apps.pipelines.views import manifest_yaml

router = Router(tags=["pipelines"], auth=READ)
MAX_LIST = 500


def version_out(version: PipelineVersion) -> dict[str, Any]:
    return {
        "id": version.pk,
        "pipeline": Ref(id=version.pipeline_id, name=version.pipeline.name),
        "name": version.name,
        "description": version.description,
        "source_format": version.source_format,
        "source_filename": version.source_filename,
        "parameters": version.parameters or [],
        "node_count": version.node_count,
        "content_hash": version.content_hash,
        "created_at": version.created_at,
    }


def get_pipeline(request: HttpRequest, pipeline_id: int) -> Pipeline:
    pipeline = scope.pipelines(request).filter(pk=pipeline_id).first()
    if pipeline is None:
        raise ApiError(404, f"No pipeline {pipeline_id}.")
    return pipeline


def get_version(request: HttpRequest, version_id: uuid.UUID, *, full: bool = False) -> Any:
    queryset = scope.versions(request).select_related("pipeline")
    if not full:
        queryset = queryset.defer("manifest", "spec")
    version = queryset.filter(pk=version_id).first()
    if version is None:
        raise ApiError(404, f"No pipeline version {version_id}.")
    return version


def _read_upload(request: HttpRequest, file: UploadedFile | None) -> tuple[str, bytes]:
    if upload_too_large(request):
        raise ApiError(400, f"The upload was refused: {too_large_message()}.", "file")
    if file is None:
        raise ApiError(400, "Send the pipeline as the multipart field “file”.", "file")
    if file.size is not None and file.size > max_upload_bytes():
        raise ApiError(400, f"The upload was refused: {too_large_message()}.", "file")
    return file.name or "upload", file.read()


def _create(request: HttpRequest, file: UploadedFile | None, **kwargs: Any) -> PipelineVersion:
    name, data = _read_upload(request, file)
    try:
        return create_version(upload_name=name, data=data, user=request.user, **kwargs)
    except PipelineImportError as exc:
        message = str(exc)
        if "already" in message:  # a pipeline or version of that name exists
            field = "name" if "pipeline named" in message else "version_name"
            raise ApiError(409, message, field) from None
        raise ApiError(400, message, "file") from None


@router.get("/pipelines", response={200: PipelineList, **ERRORS})
def list_pipelines(
    request: HttpRequest, name: str = "", project: str = "", limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    """Pipelines, newest first; `name` picks one by its exact name (unique within a project),
    `project` (id or slug) narrows to one project."""
    if not 1 <= limit <= MAX_LIST or offset < 0:
        raise ApiError(400, f"limit is 1 to {MAX_LIST}, offset 0 or more.", "limit")
    queryset = scope.in_project(scope.pipelines(request), request, project)
    if name:
        queryset = queryset.filter(name=name)
    rows = list(
        queryset.annotate(version_count=Count("versions")).order_by("-created_at", "-pk")[
            offset : offset + limit
        ]
    )
    count = len(rows) + offset if len(rows) < limit else queryset.count()
    return {"items": rows, "count": count}


@router.post("/pipelines", response={201: VersionOut, **ERRORS}, auth=WRITE)
def upload_pipeline(
    request: HttpRequest,
    file: UploadedFile | None = File(None),  # noqa: B008 - ninja's way to declare a file
    name: str = Form(""),
    version_name: str = Form(""),
    description: str = Form(""),
    allow_missing: bool = Form(False),
    project: str = Form(""),
) -> Status:
    """A new pipeline from a .pipeline file, a zip of its folder, or Argo YAML; answers its
    first version. `name` defaults to the file's name without its extension. A zip that lacks
    files its nodes use is refused naming them, unless `allow_missing` ("upload anyway": the
    version then warns, as the upload page's). `project` (id or slug) is where the pipeline
    goes: by default the token's project, or the caller's only one."""
    target = scope.target_project(request, project)
    default = (file.name or "pipeline").rsplit("/", 1)[-1].split(".")[0] if file else ""
    version = _create(
        request,
        file,
        pipeline_name=name or default,
        version_name=version_name or None,
        description=description,
        allow_missing=allow_missing,
        project_id=target.pk,
    )
    return Status(201, version_out(version))


@router.get("/pipelines/{pipeline_id}", response={200: PipelineOut, **ERRORS})
def get_pipeline_detail(request: HttpRequest, pipeline_id: int) -> Any:
    pipeline = (
        scope.pipelines(request)
        .annotate(version_count=Count("versions"))
        .filter(pk=pipeline_id)
        .first()
    )
    if pipeline is None:
        raise ApiError(404, f"No pipeline {pipeline_id}.")
    return pipeline


@router.get("/pipelines/{pipeline_id}/versions", response={200: list[VersionOut], **ERRORS})
def list_versions(request: HttpRequest, pipeline_id: int) -> list[dict[str, Any]]:
    """The pipeline's versions, newest first."""
    pipeline = get_pipeline(request, pipeline_id)
    versions = (
        scope.versions(request)
        .filter(pipeline=pipeline)
        .defer("manifest", "spec")
        .order_by("-created_at")
    )
    for version in versions:
        version.pipeline = pipeline
    return [version_out(v) for v in versions]


@router.post("/pipelines/{pipeline_id}/versions", response={201: VersionOut, **ERRORS}, auth=WRITE)
def upload_version(
    request: HttpRequest,
    pipeline_id: int,
    file: UploadedFile | None = File(None),  # noqa: B008
    version_name: str = Form(""),
    description: str = Form(""),
    allow_missing: bool = Form(False),
) -> Status:
    """A new version of the pipeline (named v1, v2, ... unless `version_name` is given);
    `allow_missing` as for a new pipeline."""
    pipeline = get_pipeline(request, pipeline_id)
    version = _create(
        request, file, pipeline=pipeline, version_name=version_name or None,
        description=description, allow_missing=allow_missing,
    )  # fmt: skip
    return Status(201, version_out(version))


@router.get("/versions/{version_id}", response={200: VersionOut, **ERRORS})
def get_version_detail(request: HttpRequest, version_id: uuid.UUID) -> dict[str, Any]:
    return version_out(get_version(request, version_id))


@router.get("/versions/{version_id}/spec", response={200: dict[str, Any], **ERRORS})
def get_spec(request: HttpRequest, version_id: uuid.UUID) -> dict[str, Any]:
    """The pipeline as imported (nodes, links, parameters), as JSON."""
    return get_version(request, version_id, full=True).spec or {}


@router.get("/versions/{version_id}/manifest", response={200: dict[str, Any], **ERRORS})
def get_manifest(request: HttpRequest, version_id: uuid.UUID, format: str = "json") -> Any:
    """The rendered Argo Workflow; `format=yaml` answers it as YAML text."""
    version = get_version(request, version_id, full=True)
    if format == "yaml":
        return HttpResponse(manifest_yaml(version), content_type="application/yaml")
    if format != "json":
        raise ApiError(400, f"format is json or yaml, not “{format}”.", "format")
    return version.manifest
