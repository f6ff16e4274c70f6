"""Importers turn an uploaded file into the parts of a PipelineVersion.

One module per source format: `elyra` (.pipeline files and zips of a pipeline folder) and
`argo_yaml` (Workflow, WorkflowTemplate, CronWorkflow). `bundle` reads zips safely and writes the
version's bundle. `import_upload` picks the importer from the file name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.pipelines.spec import PipelineSpec


class PipelineImportError(Exception):
    """An upload that cannot become a version. str(error) is the message shown to the user: it
    names the problem and the place (file, node, field, line). `problems` lists each problem
    found (all of them, where the message shows the first few), for pages that place them."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems) if problems is not None else [message]


class MissingFilesError(PipelineImportError):
    """A zip that is fine but for files its nodes use and it lacks (`missing`, paths inside the
    bundle). Importing again with allow_missing=True stores it, with a warning on the version."""

    def __init__(self, message: str, problems: list[str], missing: list[str]) -> None:
        super().__init__(message, problems)
        self.missing = list(missing)


@dataclass
class ImportResult:
    """What an importer found in an upload, before anything is stored."""

    source_format: str  # apps.pipelines.constants.SourceFormat
    source_filename: str
    spec: PipelineSpec
    files: dict[str, bytes]  # the bundle's files, "/"-separated paths
    manifest: dict[str, Any] | None = None  # Argo uploads: the validated (migrated) manifest
    parameters: list[dict[str, Any]] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)  # referenced, not uploaded
    notes: list[str] = field(default_factory=list)  # migrations and other things worth telling
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. a CronWorkflow's schedule

    def spec_dict(self) -> dict[str, Any]:
        """The spec as stored on the version, with the import's metadata beside it (the spec's
        from_dict ignores the extra key)."""
        data = self.spec.to_dict()
        meta: dict[str, Any] = {
            "notes": list(self.notes),
            "missing_files": list(self.missing_files),
        }
        meta.update(self.extra)
        data["metadata"] = meta
        return data


ELYRA_SUFFIXES = (".pipeline",)
ZIP_SUFFIXES = (".zip",)
YAML_SUFFIXES = (".yaml", ".yml", ".json")


def import_upload(upload_name: str, data: bytes, *, allow_missing: bool = False) -> ImportResult:
    """Detect the format from the file name and import it. Raises PipelineImportError, or its
    MissingFilesError for a zip that lacks only files its nodes use, unless `allow_missing`
    (then they are listed in the result's missing_files, as for a lone .pipeline file)."""
    from apps.pipelines.importers import argo_yaml, bundle, elyra

    name = (upload_name or "").replace("\\", "/").rsplit("/", 1)[-1]
    if not name:
        raise PipelineImportError("The upload has no file name.")
    bundle.check_size(name, data)
    lower = name.lower()
    if lower.endswith(ELYRA_SUFFIXES):
        return elyra.import_pipeline_file(name, data)
    if lower.endswith(ZIP_SUFFIXES):
        return elyra.import_zip(name, data, allow_missing=allow_missing)
    if lower.endswith(YAML_SUFFIXES):
        return argo_yaml.import_yaml(name, data)
    raise PipelineImportError(
        f"{name}: unsupported file type; upload an Elyra .pipeline file, a .zip of a pipeline "
        "folder, or an Argo Workflow as .yaml/.yml/.json."
    )


class Problems:
    """Collects what is wrong with an upload, so that one message names every problem (up to
    `shown_at_most` of them) rather than only the first."""

    shown_at_most = 8

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add_text(self, message: str) -> None:
        if message not in self.items:
            self.items.append(message)

    def message(self) -> str:
        """One line naming the problems (the first `shown_at_most` of them)."""
        shown = self.items[: self.shown_at_most]
        more = len(self.items) - len(shown)
        text = "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
        if len(self.items) == 1:
            return f"{self.source}: {text}"
        return f"{self.source}: {len(self.items)} problems: {text}"

    def raise_if_any(self) -> None:
        if self.items:
            raise PipelineImportError(self.message(), self.items)
