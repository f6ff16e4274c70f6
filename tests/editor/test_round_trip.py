"""Every runnable .pipeline of the corpora: import (a complete zip) -> open in the editor -> save
without change -> the new version's spec equals the old one's, and the .pipeline the editor
wrote validates against the pipeline-flow v3 schema."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from apps.editor import services
from apps.editor.document import pipeline_filename
from apps.pipelines.importers import import_upload
from apps.pipelines.services import create_version
from tests.conftest import shared_path
from tests.pipelines.test_import_elyra import (
    RUNNABLE,
    _copy_pipeline_folder,
    _load,
    _raw_files,
    _zip_dir,
)

pytestmark = pytest.mark.django_db


def _schema_validator():
    jsonschema = pytest.importorskip("jsonschema")
    from referencing import Registry
    from referencing.jsonschema import DRAFT4

    schema_dir = shared_path("corpora", "elyra-schema")
    schemas = {p.name: json.loads(p.read_text()) for p in schema_dir.rglob("*.json")}
    main = next(s for n, s in schemas.items() if n == "pipeline-flow-v3-schema.json")
    registry = Registry().with_resources(
        (s.get("id", n), DRAFT4.create_resource(s)) for n, s in schemas.items()
    )
    return jsonschema.Draft4Validator(main, registry=registry)


def _complete_zip(rel: str, tmp_path: Path) -> bytes:
    """The pipeline's folder zipped, with stand-ins for the files the corpus left out (as
    tests/pipelines/test_import_elyra.py's complete-zip test does)."""
    import posixpath

    path = _load(rel)
    single = import_upload(path.name, path.read_bytes())
    up = 1 if any("outside the pipeline's folder" in n for n in single.notes) else 0
    folder, inner = _copy_pipeline_folder(path, tmp_path, up)
    for filename, deps in _raw_files(path):
        node_dir = posixpath.dirname(
            posixpath.normpath(posixpath.join(posixpath.dirname(inner), filename))
        )
        wanted = [posixpath.join(posixpath.dirname(inner), filename)]
        wanted += [posixpath.join(node_dir, d.replace("*", "x").replace("?", "x")) for d in deps]
        for name in (posixpath.normpath(w) for w in wanted):
            target = folder / name
            if not name.startswith("../") and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("{}")
    return _zip_dir(folder)


def _comparable(spec: dict) -> dict:
    # The format version written and the import's notes say how the file was written, not what
    # the pipeline is.
    return {k: v for k, v in spec.items() if k not in ("source_version", "metadata")}


@pytest.mark.parametrize("rel", RUNNABLE)
def test_open_and_save_unchanged_gives_the_same_spec(rel: str, tmp_path: Path, user) -> None:
    validator = _schema_validator()
    data = _complete_zip(rel, tmp_path)
    first = create_version(upload_name="corpus.zip", data=data, pipeline_name="corpus")
    draft = services.create_from_version(owner=user, version=first)
    assert services.check(draft).ok, services.check(draft).message
    second = services.save_as_version(draft, user=user)
    assert second.pipeline_id == first.pipeline_id
    assert _comparable(second.spec) == _comparable(first.spec)
    assert second.spec["source_version"] == 8
    assert second.parameters == first.parameters
    with second.bundle.open("rb") as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as archive:
        written = json.loads(archive.read(pipeline_filename(draft.document)))
    validator.validate(written)
