"""Creating pipeline versions from uploads.  (CONTRACT STUB: the importer helper fills it in.)"""

from __future__ import annotations

from typing import Any

from apps.pipelines.models import Pipeline, PipelineVersion


def create_version(
    *,
    upload_name: str,
    data: bytes,
    pipeline: Pipeline | None = None,
    pipeline_name: str | None = None,
    version_name: str | None = None,
    description: str = "",
    user: Any = None,
) -> PipelineVersion:
    """Import `data` (a .pipeline file, a zip of a pipeline folder, or Argo YAML) as a new version
    of `pipeline` (or of a new pipeline called `pipeline_name`), atomically.

    Raises PipelineImportError with a user-facing message; on error nothing is stored."""
    raise NotImplementedError
