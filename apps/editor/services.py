"""Drafts: create, save (optimistic), files, check, and "Save as version".

A draft becomes a version through THE upload path (apps.pipelines.services.create_version) with a
zip of its files and the .pipeline file it writes, so the version is what an upload of that zip
makes, with the importer's messages when it is refused.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from apps.editor import document as doclib
from apps.editor.models import Draft, DraftFile
from apps.pipelines import services as pipeline_services
from apps.pipelines.constants import SourceFormat
from apps.pipelines.importers import PipelineImportError
from apps.pipelines.importers.bundle import (
    build_bundle,
    max_unzipped_bytes,
    max_upload_bytes,
    safe_member_name,
    strip_common_root,
)
from apps.pipelines.importers.elyra import build_spec, parse_json
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.projects.models import default_project

MAX_FILES = 5000


class DraftError(Exception):
    """A refused draft operation; str() is the message for the page."""


class StaleDraft(DraftError):
    """The draft was saved by someone else (another tab) since this editor loaded it."""

    def __init__(self, revision: int) -> None:
        super().__init__(
            "Someone else changed this draft since you opened it (another tab or person). "
            "Reload to see their changes; your last edit was not saved."
        )
        self.revision = revision


# -- creating ----------------------------------------------------------------------------------


def create_blank(*, owner: Any, name: str, project_id: int | None = None) -> Draft:
    name = _clean_name(name)
    return Draft.objects.create(
        owner=owner,
        name=name,
        document=doclib.empty_document(name),
        project_id=project_id or default_project(),
    )


def create_from_version(*, owner: Any, version: PipelineVersion) -> Draft:
    """A draft holding the version's graph and files; its .pipeline file is left out (the
    draft writes its own when saved)."""
    if version.source_format != SourceFormat.ELYRA:
        raise DraftError(
            "Only Elyra pipelines open in the editor; this version was uploaded as Argo YAML."
        )
    with version.bundle.open("rb") as handle, zipfile.ZipFile(handle) as archive:
        files = {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
    positions: dict[str, tuple[float, float]] = {}
    defaults: dict[str, Any] = {}
    for name in [n for n in files if n.lower().endswith(".pipeline")]:
        with contextlib.suppress(PipelineImportError):
            raw = parse_json(name, files[name])
            positions.update(doclib.positions_of(raw))
            defaults = doclib.defaults_of(raw)
        del files[name]
    doc = doclib.from_spec(version.spec, positions, defaults)
    with transaction.atomic():
        draft = Draft.objects.create(
            owner=owner,
            name=f"{version.pipeline.name} ({version.name})",
            pipeline=version.pipeline,
            project_id=version.pipeline.project_id,
            base_version=version,
            document=doc,
        )
        _store_files(draft, files.items())
    return draft


def create_from_files(
    *, owner: Any, name: str, uploads: list[tuple[str, bytes]], project_id: int | None = None
) -> Draft:
    """A draft from loose files (a folder dropped in keeps its structure). A .pipeline file among
    them becomes the draft's graph; a .zip is unpacked."""
    files, folder = _loose_files(uploads)
    pipelines = sorted(path for path in files if path.lower().endswith(".pipeline"))
    if len(pipelines) > 1:
        raise DraftError(
            f"{len(pipelines)} .pipeline files were given ({', '.join(pipelines[:5])}); "
            "start a draft from one pipeline at a time."
        )
    doc = doclib.empty_document()
    if pipelines:
        path = pipelines[0]
        raw = parse_json(path, files.pop(path))
        notes: list[str] = []
        folder = posixpath.dirname(path)
        spec = build_spec(raw, source=path, files=None, base_dir=folder, notes=notes)
        doc = doclib.from_spec(spec.to_dict(), doclib.positions_of(raw), doclib.defaults_of(raw))
    name = name.strip() or doc["name"] or folder or "Untitled pipeline"
    doc["name"] = doc["name"] or name
    with transaction.atomic():
        draft = Draft.objects.create(
            owner=owner,
            name=_clean_name(name),
            document=doc,
            project_id=project_id or default_project(),
        )
        _store_files(draft, files.items())
    return draft


def _loose_files(uploads: list[tuple[str, bytes]]) -> tuple[dict[str, bytes], str]:
    """The files, with the one folder they all sit in (a dropped folder) taken off; and that
    folder's name ("" if none)."""
    from apps.pipelines.importers.bundle import read_zip

    files: dict[str, bytes] = {}
    for name, data in uploads:
        path = clean_path(name)
        if path.lower().endswith(".zip"):
            for inner, body in strip_common_root(read_zip(path, data)).items():
                files[inner] = body
        else:
            files[path] = data
    if not files:
        raise DraftError("Choose at least one file.")
    tops = {path.split("/", 1)[0] for path in files}
    if len(tops) == 1 and all("/" in path for path in files):
        return strip_common_root(files), tops.pop()
    return files, ""


# -- saving the document -----------------------------------------------------------------------


def save_document(draft: Draft, raw: Any, *, revision: int) -> int:
    """Store the document if the draft is still at `revision`; returns the new revision.
    Raises StaleDraft (someone saved in between) or document.DocumentError (bad shape)."""
    doc = doclib.clean_document(raw)
    name = _clean_name(doc["name"] or draft.name)
    # update() leaves auto_now fields alone: set updated_at (the drafts list's order) here.
    updated = Draft.objects.filter(pk=draft.pk, revision=revision).update(
        document=doc, name=name, revision=F("revision") + 1, updated_at=timezone.now()
    )
    if updated != 1:
        current = Draft.objects.filter(pk=draft.pk).values_list("revision", flat=True).first()
        raise StaleDraft(current or 0)
    draft.refresh_from_db(fields=["document", "name", "revision", "updated_at"])
    return draft.revision


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split()) or "Untitled pipeline"
    if len(name) > pipeline_services.MAX_NAME:
        raise DraftError(f"The name is longer than {pipeline_services.MAX_NAME} characters.")
    return name


# -- files -------------------------------------------------------------------------------------


def clean_path(name: str) -> str:
    """A file's path in the draft: relative, '/'-separated, never leaving the folder."""
    try:
        path = safe_member_name(name or "", archive="upload")
    except PipelineImportError as error:
        raise DraftError(str(error).replace("upload: entry", "File")) from None
    if not path:
        raise DraftError("A file needs a name.")
    if len(path) > 500:
        raise DraftError("The file's path is longer than 500 characters.")
    return path


def add_files(draft: Draft, uploads: list[tuple[str, bytes]]) -> list[str]:
    """Add (or replace) files; returns their paths. A .pipeline file is refused: the draft
    writes its own."""
    files = {}
    for name, data in uploads:
        path = clean_path(name)
        if path.lower().endswith(".pipeline"):
            raise DraftError(
                f"{path}: a .pipeline file is a whole pipeline; start a new draft from it "
                "(New pipeline in editor) instead of adding it as a file."
            )
        files[path] = data
    if not files:
        raise DraftError("Choose at least one file.")
    with transaction.atomic():
        Draft.objects.select_for_update().filter(pk=draft.pk).first()
        _store_files(draft, files.items())
    return sorted(files)


def write_file(draft: Draft, path: str, text: str) -> DraftFile:
    """Replace a text file's content (the code editor's save)."""
    path = clean_path(path)
    if not draft.files.filter(path=path).exists():
        raise DraftError(f"{path} is not a file of this draft.")
    return _store_files(draft, [(path, text.encode())])[0]


def rename_file(draft: Draft, old: str, new: str) -> str:
    old, new = clean_path(old), clean_path(new)
    if new.lower().endswith(".pipeline"):
        raise DraftError("A file of the draft cannot be named .pipeline.")
    with transaction.atomic():
        item = draft.files.select_for_update().filter(path=old).first()
        if item is None:
            raise DraftError(f"{old} is not a file of this draft.")
        if old != new and draft.files.filter(path=new).exists():
            raise DraftError(f"{new} already exists; delete it first or choose another name.")
        item.path = new
        item.save(update_fields=["path", "updated_at"])
    return new


def delete_file(draft: Draft, path: str) -> None:
    item = draft.files.filter(path=clean_path(path)).first()
    if item is None:
        raise DraftError(f"{path} is not a file of this draft.")
    _delete_rows([item])


def read_file(draft: Draft, path: str) -> bytes:
    item = draft.files.filter(path=clean_path(path)).first()
    if item is None:
        raise DraftError(f"{path} is not a file of this draft.")
    with item.content.open("rb") as handle:
        return handle.read()


def delete_draft(draft: Draft) -> None:
    rows = list(draft.files.all())
    with transaction.atomic():
        draft.delete()
        transaction.on_commit(lambda: [_delete_stored(row) for row in rows])


def _store_files(draft: Draft, items: Iterable[tuple[str, bytes]]) -> list[DraftFile]:
    """Write the files (new rows or replaced content) within the caller's transaction; stored
    content is removed again if it does not commit."""
    items = list(items)
    existing = {row.path: row for row in draft.files.filter(path__in=[p for p, _ in items])}
    limit = max_upload_bytes()
    for path, data in items:
        if len(data) > limit:
            raise DraftError(f"{path} is {len(data):,} bytes, over the {limit:,}-byte limit.")
    kept = draft.files.exclude(path__in=list(existing)).aggregate(total=Sum("size"))["total"] or 0
    if kept + sum(len(data) for _, data in items) > max_unzipped_bytes():
        raise DraftError(
            f"The draft's files would weigh more than {max_unzipped_bytes():,} bytes in all."
        )
    if draft.files.exclude(path__in=list(existing)).count() + len(items) > MAX_FILES:
        raise DraftError(f"A draft holds at most {MAX_FILES} files.")
    written: list[DraftFile] = []
    old_contents: list[DraftFile] = []
    stored: list[tuple[Any, str]] = []
    try:
        with transaction.atomic():
            for path, data in items:
                row = existing.get(path)
                if row is not None:
                    old_contents.append(DraftFile(content=row.content.name))
                else:
                    row = DraftFile(draft=draft, path=path)
                row.size = len(data)
                row.content.save(path.rsplit("/", 1)[-1], ContentFile(data), save=False)
                stored.append((row.content.storage, row.content.name))
                row.save()
                written.append(row)
            transaction.on_commit(lambda: [_delete_stored(row) for row in old_contents])
    except BaseException:
        for storage, name in stored:
            with contextlib.suppress(OSError):
                storage.delete(name)
        raise
    return written


def _delete_rows(rows: list[DraftFile]) -> None:
    with transaction.atomic():
        DraftFile.objects.filter(pk__in=[row.pk for row in rows]).delete()
        transaction.on_commit(lambda: [_delete_stored(row) for row in rows])


def _delete_stored(row: DraftFile) -> None:
    with contextlib.suppress(OSError):
        if row.content.name:
            row.content.storage.delete(row.content.name)


# -- checking and saving as a version ----------------------------------------------------------


@dataclass
class Check:
    """The importer's verdict on a draft: every problem, and those placed on each node."""

    ok: bool
    message: str
    problems: list[str]
    by_node: dict[str, list[str]]
    general: list[str]


def check(draft: Draft) -> Check:
    """Run the importer on the draft as "Save as version" would (file names, not contents)."""
    paths = draft.files.values_list("path", flat=True)
    return check_document(doclib.clean_document(draft.document), paths)


def check_document(doc: dict[str, Any], paths: Iterable[str]) -> Check:
    """The importer's verdict on a (cleaned) document with these files: what check() says of a
    draft, for a document not saved yet (the properties forms)."""
    names = dict.fromkeys(paths, b"")
    source = doclib.pipeline_filename(doc)
    try:
        build_spec(doclib.to_elyra(doc), source=source, files=names, base_dir="")
    except PipelineImportError as error:
        return _placed(doc, str(error), error.problems, source)
    return Check(ok=True, message="", problems=[], by_node={}, general=[])


def _placed(doc: dict[str, Any], message: str, problems: list[str], source: str) -> Check:
    by_node: dict[str, list[str]] = {}
    general: list[str] = []
    prefix = f"{source}: "
    for problem in problems:
        problem = problem.removeprefix(prefix)
        owners = [n["id"] for n in doc["nodes"] if f"(id {n['id']})" in problem]
        if owners:
            for nid in owners:
                # The node is shown beside the message: keep only what is wrong.
                text = re.sub(r'^node ".*?" \(id [^)]*\):\s*', "", problem)
                by_node.setdefault(nid, []).append(text)
        else:
            general.append(problem)
    return Check(ok=False, message=message, problems=problems, by_node=by_node, general=general)


def bundle_files(draft: Draft) -> dict[str, bytes]:
    """The files a version made from the draft holds: the draft's files and its .pipeline."""
    doc = doclib.clean_document(draft.document)
    files: dict[str, bytes] = {}
    for row in draft.files.all():
        with row.content.open("rb") as handle:
            files[row.path] = handle.read()
    files[doclib.pipeline_filename(doc)] = doclib.to_elyra_bytes(doc)
    return files


def save_as_version(
    draft: Draft, *, user: Any, version_name: str = "", description: str = ""
) -> PipelineVersion:
    """Make an immutable version from the draft, through the upload path. Raises
    PipelineImportError (the importer's message) or DraftError."""
    doc = doclib.clean_document(draft.document)
    if not doc["nodes"]:
        raise DraftError("The pipeline has no nodes: drag a notebook or script onto the canvas.")
    data = build_bundle(bundle_files(draft))
    upload_name = doclib.pipeline_filename(doc).removesuffix(".pipeline") + ".zip"
    pipeline = (
        Pipeline.objects.filter(pk=draft.pipeline_id, project_id=draft.project_id).first()
        if draft.pipeline_id
        else None
    )
    version = pipeline_services.create_version(
        upload_name=upload_name,
        data=data,
        pipeline=pipeline,
        pipeline_name=None if pipeline else (doc["name"] or draft.name),
        version_name=version_name or None,
        description=description,
        user=user,
        project_id=draft.project_id,
    )
    if pipeline is None:
        # Later saves of this draft are the next versions of the pipeline it just made.
        Draft.objects.filter(pk=draft.pk).update(pipeline=version.pipeline)
        draft.pipeline = version.pipeline
    return version


def used_images(project_id: int | None = None, limit: int = 50) -> list[str]:
    """Runtime images of the project's stored versions, most used first (the image field's
    suggestions)."""
    counts: dict[str, int] = {}
    specs = PipelineVersion.objects.filter(
        source_format=SourceFormat.ELYRA, pipeline__project_id=project_id or default_project()
    ).values_list("spec", flat=True)[:500]
    for spec in specs:
        for node in (spec or {}).get("nodes", []):
            image = node.get("runtime_image")
            if image:
                counts[image] = counts.get(image, 0) + 1
    return sorted(counts, key=lambda image: (-counts[image], image))[:limit]


def file_listing(draft: Draft) -> list[dict[str, Any]]:
    return [
        {"path": path, "size": size}
        for path, size in draft.files.order_by("path").values_list("path", "size")
    ]
