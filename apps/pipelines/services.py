"""Creating pipeline versions from uploads.

The order matters for "a refused upload stores nothing": everything that can refuse (parsing,
validation, rendering) runs before the first write; the rows are written in one transaction;
the bundle file is written inside it and removed again if the transaction does not commit.
"""

from __future__ import annotations

import contextlib
import re
import uuid
import zipfile
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from apps.pipelines.constants import SourceFormat
from apps.pipelines.importers import ImportResult, PipelineImportError, import_upload
from apps.pipelines.importers.bundle import build_bundle, content_hash
from apps.pipelines.importers.elyra import MISSING_FILES_NOTE
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.projects.models import default_project

MAX_NAME = 200
_VERSION_NUMBER = re.compile(r"^v(\d+)$")


def create_version(
    *,
    upload_name: str,
    data: bytes,
    pipeline: Pipeline | None = None,
    pipeline_name: str | None = None,
    version_name: str | None = None,
    description: str = "",
    user: Any = None,
    allow_missing: bool = False,
    project_id: int | None = None,
) -> PipelineVersion:
    """Import `data` (a .pipeline file, a zip of a pipeline folder, or Argo YAML) as a new version
    of `pipeline` (or of a new pipeline called `pipeline_name`), atomically.

    Without a version name the version is called v1, v2, ... (the next free number). A new
    pipeline's name must be unused. Raises PipelineImportError with a user-facing message (its
    MissingFilesError for a zip that lacks files its nodes use, unless `allow_missing`: then the
    version is stored and its page warns); on error nothing is stored (no rows, no bundle file).
    A new pipeline goes to `project_id` (default: the Default project)."""
    if pipeline is None:
        project_id = project_id or default_project()
        pipeline_name = _clean_name(pipeline_name, "pipeline")
        if pipeline_name is None:
            raise PipelineImportError("Give the new pipeline a name, or choose an existing one.")
        if Pipeline.objects.filter(project_id=project_id, name=pipeline_name).exists():
            raise PipelineImportError(
                f"A pipeline named {pipeline_name!r} already exists; upload this file as a new "
                "version of it, or choose another name."
            )
    version_name = _clean_name(version_name, "version")
    result = import_upload(upload_name, data, allow_missing=allow_missing)
    bundle = build_bundle(result.files)
    version_id = uuid.uuid4()  # before rendering: the manifest names the version
    manifest = _manifest(result, version_id)

    stored: list[tuple[Any, str]] = []
    try:
        with transaction.atomic():
            if pipeline is None:
                try:
                    with transaction.atomic():
                        pipeline = Pipeline.objects.create(
                            name=pipeline_name,
                            project_id=project_id,
                            description=description or result.spec.description,
                            created_by=user,
                        )
                except IntegrityError:
                    raise PipelineImportError(
                        f"A pipeline named {pipeline_name!r} already exists; upload this file as "
                        "a new version of it, or choose another name."
                    ) from None
            else:
                # Serialize uploads to one pipeline, so two cannot take the same "vN".
                pipeline = Pipeline.objects.select_for_update().get(pk=pipeline.pk)
            name = version_name or _next_version_name(pipeline)
            if pipeline.versions.filter(name=name).exists():
                raise PipelineImportError(
                    f"Pipeline {pipeline.name!r} already has a version named {name!r}; choose "
                    "another version name."
                )
            version = PipelineVersion(
                id=version_id,
                pipeline=pipeline,
                name=name,
                description=description,
                source_format=result.source_format,
                source_filename=result.source_filename[:255],
                bundle_size=len(bundle),
                spec=result.spec_dict(),
                manifest=manifest,
                parameters=result.parameters,
                node_count=_node_count(result),
                content_hash=content_hash(result.files),
                created_by=user,
            )
            version.bundle.save(f"{version_id}.zip", ContentFile(bundle), save=False)
            stored.append((version.bundle.storage, version.bundle.name))
            version.save()
    except BaseException:
        for storage, name in stored:
            _delete_file(storage, name)
        raise
    return version


class VersionNotFound(LookupError):
    """No version answers the reference; the message says what was looked for."""


def find_version(
    ref: str,
    *,
    pipelines: QuerySet[Pipeline] | None = None,
    versions: QuerySet[PipelineVersion] | None = None,
) -> PipelineVersion:
    """A version by id, by pipeline name (its latest version), or by "pipeline:version", among
    `versions` of `pipelines` (default: all). Raises VersionNotFound."""
    pipelines = Pipeline.objects.all() if pipelines is None else pipelines
    versions = PipelineVersion.objects.all() if versions is None else versions
    versions = versions.filter(pipeline__in=pipelines).select_related("pipeline")
    try:
        return versions.get(pk=uuid.UUID(ref))
    except (ValueError, PipelineVersion.DoesNotExist):
        pass
    pipeline_name, _, version_name = ref.partition(":")
    pipeline = pipelines.filter(name=pipeline_name).first()
    if pipeline is None:
        raise VersionNotFound(f"no pipeline version {ref!r} (give a version id or a pipeline name)")
    mine = versions.filter(pipeline=pipeline).order_by("-created_at")
    version = mine.filter(name=version_name).first() if version_name else mine.first()
    if version is None:
        raise VersionNotFound(f"pipeline {pipeline_name!r} has no version {version_name!r}")
    return version


def missing_files(version: PipelineVersion) -> list[str]:
    """Files the version's nodes use that were not uploaded: a lone .pipeline file's, or those a
    zip stored with "upload anyway" lacked."""
    return list((version.spec or {}).get("metadata", {}).get("missing_files", []))


def import_notes(version: PipelineVersion) -> list[str]:
    """What the import said worth telling (migrated fields, a default runtime image, ...),
    less the missing files, which the version page shows in an alert of their own."""
    notes = (version.spec or {}).get("metadata", {}).get("notes", [])
    return [note for note in notes if not note.startswith(MISSING_FILES_NOTE)]


def bundle_names(version: PipelineVersion) -> list[str]:
    """The paths inside a version's bundle."""
    with version.bundle.open("rb") as fh, zipfile.ZipFile(fh) as archive:
        return sorted(archive.namelist())


def _manifest(result: ImportResult, version_id: uuid.UUID) -> dict[str, Any]:
    if result.source_format == SourceFormat.ARGO:
        assert result.manifest is not None
        return result.manifest
    from apps.pipelines.rendering import render_elyra_manifest

    return render_elyra_manifest(result.spec, version_id=version_id)


def _node_count(result: ImportResult) -> int:
    return len(result.spec.nodes) or (1 if result.manifest else 0)


def _clean_name(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    if not value:
        return None
    if len(value) > MAX_NAME:
        raise PipelineImportError(f"The {what} name is longer than {MAX_NAME} characters.")
    return value


def _next_version_name(pipeline: Pipeline) -> str:
    numbers = [
        int(match.group(1))
        for match in (
            _VERSION_NUMBER.match(n) for n in pipeline.versions.values_list("name", flat=True)
        )
        if match
    ]
    return f"v{max(numbers, default=0) + 1}"


def _delete_file(storage: Any, name: str) -> None:
    # Best effort: the row was not written, an orphan file would only cost disk space.
    with contextlib.suppress(OSError):
        storage.delete(name)


def delete_versions(versions: QuerySet[PipelineVersion]) -> int:
    """Delete the versions and, once the transaction commits, their bundle files (a rollback
    keeps them). Raises django.db.models.ProtectedError while runs or schedules use one."""
    with transaction.atomic():
        rows = list(versions.only("id", "bundle"))
        files = [(v.bundle.storage, v.bundle.name) for v in rows if v.bundle]
        PipelineVersion.objects.filter(pk__in=[v.pk for v in rows]).delete()
        transaction.on_commit(lambda: [_delete_file(storage, name) for storage, name in files])
    return len(rows)


def delete_pipeline(pipeline: Pipeline) -> None:
    """Delete the pipeline with its versions and their bundle files (see delete_versions)."""
    with transaction.atomic():
        delete_versions(PipelineVersion.objects.filter(pipeline=pipeline))
        pipeline.delete()
