"""create_version and `manage.py import_pipeline`: what is stored, and that a refusal stores
nothing (no rows, no bundle file)."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.pipelines.importers import MissingFilesError, PipelineImportError
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.pipelines.services import bundle_names, create_version, missing_files
from tests.conftest import shared_path

pytestmark = pytest.mark.django_db

WORKFLOW = b"""\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: who
      value: world
  templates:
  - name: main
    container:
      image: alpine:3.19
      command: [echo, "hello {{workflow.parameters.who}}"]
"""


def _pipeline_doc(*, image: str = "python:3.11") -> bytes:
    node = {
        "id": "n1",
        "type": "execution_node",
        "op": "execute-notebook-node",
        "app_data": {
            "label": "Hello",
            "component_parameters": {"filename": "hello.ipynb", "runtime_image": image},
        },
    }
    doc = {
        "version": "3.0",
        "primary_pipeline": "p",
        "pipelines": [
            {
                "id": "p",
                "nodes": [node],
                "app_data": {
                    "version": 8,
                    "properties": {
                        "name": "hello",
                        "pipeline_parameters": [
                            {"name": "n", "default_value": {"type": "Integer", "value": 2}}
                        ],
                    },
                },
            }
        ],
    }
    return json.dumps(doc).encode()


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, body in entries.items():
            archive.writestr(name, body)
    return out.getvalue()


@pytest.fixture
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def test_argo_upload_creates_pipeline_and_version(media: Path, user) -> None:
    version = create_version(
        upload_name="hello.yaml", data=WORKFLOW, pipeline_name="Hello", user=user
    )
    version.refresh_from_db()
    assert version.pipeline.name == "Hello" and version.pipeline.created_by == user
    assert (version.name, version.source_format, version.source_filename) == (
        "v1",
        "argo",
        "hello.yaml",
    )
    assert version.manifest["spec"]["entrypoint"] == "main"
    assert version.parameters == [
        {"name": "who", "type": "String", "default": "world", "description": "", "required": False}
    ]
    assert version.node_count == 1 and len(version.content_hash) == 64
    assert bundle_names(version) == ["hello.yaml"]
    assert version.bundle_size == (media / version.bundle.name).stat().st_size
    assert version.spec["metadata"]["kind"] == "Workflow"


def test_elyra_zip_upload_is_rendered(media: Path) -> None:
    data = _zip({"hello/hello.pipeline": _pipeline_doc(), "hello/hello.ipynb": b"{}"})
    version = create_version(upload_name="hello.zip", data=data, pipeline_name="Elyra hello")
    assert version.source_format == "elyra"
    assert bundle_names(version) == ["hello.ipynb", "hello.pipeline"]
    assert version.spec["nodes"][0]["filename"] == "hello.ipynb"
    assert version.spec["source_version"] == 8
    assert version.parameters == [
        {"name": "n", "type": "Integer", "default": 2, "description": "", "required": False}
    ]
    assert version.manifest["kind"] == "Workflow"
    # The renderer labels the manifest with the version id, given before rendering.
    assert str(version.id) in json.dumps(version.manifest)
    assert missing_files(version) == []


def test_single_pipeline_file_lists_missing_files(media: Path) -> None:
    version = create_version(
        upload_name="hello.pipeline", data=_pipeline_doc(), pipeline_name="Lone"
    )
    assert bundle_names(version) == ["hello.pipeline"]
    assert missing_files(version) == ["hello.ipynb"]


def test_corpus_example_folder_imports(media: Path, tmp_path: Path) -> None:
    folder = shared_path("corpora", "elyra-examples", "pipelines", "dax_noaa_weather_data")
    copy = tmp_path / "dax"
    shutil.copytree(folder, copy)
    out = io.StringIO()
    call_command("import_pipeline", str(copy), "--pipeline", "NOAA", stdout=out)
    version = PipelineVersion.objects.get(pk=out.getvalue().strip())
    assert version.pipeline.name == "NOAA" and version.node_count == 4
    assert "analyze_NOAA_weather_data.pipeline" in bundle_names(version)


def test_default_names_count_up_and_duplicates_are_refused(media: Path) -> None:
    first = create_version(upload_name="a.yaml", data=WORKFLOW, pipeline_name="P")
    pipeline = first.pipeline
    second = create_version(upload_name="a.yaml", data=WORKFLOW, pipeline=pipeline)
    named = create_version(
        upload_name="a.yaml", data=WORKFLOW, pipeline=pipeline, version_name="prod"
    )
    third = create_version(upload_name="a.yaml", data=WORKFLOW, pipeline=pipeline)
    assert [first.name, second.name, named.name, third.name] == ["v1", "v2", "prod", "v3"]
    files_before = _stored_files(media)
    with pytest.raises(PipelineImportError, match="already has a version named 'prod'"):
        create_version(upload_name="a.yaml", data=WORKFLOW, pipeline=pipeline, version_name="prod")
    with pytest.raises(PipelineImportError, match="A pipeline named 'P' already exists"):
        create_version(upload_name="a.yaml", data=WORKFLOW, pipeline_name="P")
    assert pipeline.versions.count() == 4 and Pipeline.objects.count() == 1
    assert _stored_files(media) == files_before


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("bad.pipeline", b"{not json", "not valid JSON"),
        ("bad.pipeline", _pipeline_doc(image="Not An Image"), "not a valid image name"),
        ("bad.zip", _zip({"x.pipeline": _pipeline_doc()}), "'hello.ipynb' is missing from the zip"),
        ("bad.zip", _zip({"../x.pipeline": b"{}"}), "outside the folder"),
        ("bad.yaml", b"kind: Workflow\n  bad: [", "not valid YAML"),
        ("bad.yaml", WORKFLOW.replace(b"entrypoint: main", b"entrypoint: nope"), "'nope'"),
        ("bad.txt", b"hello", "unsupported file type"),
    ],
)
def test_refusals_store_nothing(media: Path, name: str, data: bytes, words: str) -> None:
    with pytest.raises(PipelineImportError) as info:
        create_version(upload_name=name, data=data, pipeline_name="Refused")
    assert words in str(info.value)
    assert not Pipeline.objects.exists() and not PipelineVersion.objects.exists()
    assert _stored_files(media) == []


def test_failure_after_the_bundle_is_written_removes_it(media: Path, monkeypatch) -> None:
    """A fault we cannot make with input: the row's save fails after the file was written."""

    def broken_save(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(PipelineVersion, "save", broken_save)
    with pytest.raises(RuntimeError):
        create_version(upload_name="a.yaml", data=WORKFLOW, pipeline_name="Half")
    assert _stored_files(media) == []
    assert not Pipeline.objects.filter(name="Half").exists()


def test_oversize_upload_is_refused(media: Path, settings) -> None:
    settings.YDP_MAX_UPLOAD_BYTES = 100
    with pytest.raises(PipelineImportError, match=r"over the 0\.0 MiB upload limit"):
        create_version(upload_name="a.yaml", data=WORKFLOW, pipeline_name="Big")
    assert not Pipeline.objects.exists()


def test_new_pipeline_needs_a_name(media: Path) -> None:
    with pytest.raises(PipelineImportError, match="Give the new pipeline a name"):
        create_version(upload_name="a.yaml", data=WORKFLOW, pipeline_name="  ")


# -- the management command ---------------------------------------------------------------------


def test_command_prints_the_version_id(media: Path, tmp_path: Path) -> None:
    path = tmp_path / "hello.yaml"
    path.write_bytes(WORKFLOW)
    out = io.StringIO()
    call_command(
        "import_pipeline", str(path), "--version", "first", "--description", "d", stdout=out
    )
    version = PipelineVersion.objects.get(pk=out.getvalue().strip())
    assert (version.pipeline.name, version.name, version.description) == ("hello", "first", "d")
    # Again: a new version of the same pipeline (named after the file).
    out = io.StringIO()
    call_command("import_pipeline", str(path), stdout=out)
    assert PipelineVersion.objects.get(pk=out.getvalue().strip()).name == "v1"


@pytest.mark.django_db(transaction=True)
def test_command_error_is_one_line_and_exit_1(media: Path, tmp_path: Path, capsys) -> None:
    from django.core.management import ManagementUtility

    bad = tmp_path / "bad.pipeline"
    bad.write_bytes(_pipeline_doc(image="Not An Image"))
    with pytest.raises(SystemExit) as info:
        ManagementUtility(["manage.py", "import_pipeline", str(bad)]).execute()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a valid image name" in err
    assert not PipelineVersion.objects.exists()


def test_command_missing_path(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file or folder"):
        call_command("import_pipeline", str(tmp_path / "nope.yaml"))


def test_zip_lacking_its_file_is_refused_then_stored_with_allow_missing(media: Path) -> None:
    data = _zip({"hello/hello.pipeline": _pipeline_doc(), "hello/readme.md": b"hi"})
    with pytest.raises(MissingFilesError) as info:
        create_version(upload_name="hello.zip", data=data, pipeline_name="Partial")
    assert info.value.missing == ["hello.ipynb"]
    assert not Pipeline.objects.exists()
    assert not any(p.is_file() for p in media.rglob("*"))

    version = create_version(
        upload_name="hello.zip", data=data, pipeline_name="Partial", allow_missing=True
    )
    assert missing_files(version) == ["hello.ipynb"]
    assert bundle_names(version) == ["hello.pipeline", "readme.md"]
    assert version.manifest["kind"] == "Workflow"


def test_command_allow_missing(media: Path, tmp_path: Path) -> None:
    folder = tmp_path / "hello"
    folder.mkdir()
    (folder / "hello.pipeline").write_bytes(_pipeline_doc())
    with pytest.raises(CommandError, match=r"'hello.ipynb' is missing .*--allow-missing"):
        call_command("import_pipeline", str(folder))
    out = io.StringIO()
    call_command("import_pipeline", str(folder), "--allow-missing", stdout=out)
    version = PipelineVersion.objects.get(pk=out.getvalue().strip())
    assert missing_files(version) == ["hello.ipynb"]
