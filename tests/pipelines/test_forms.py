"""UploadPipelineForm: what it accepts and the message it gives for each refusal."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.pipelines.forms import UploadPipelineForm
from apps.pipelines.models import Pipeline, PipelineVersion


def form(files: dict | None = None, **data: str) -> UploadPipelineForm:
    fields = {"target": "new", "name": "", "version_name": "", "description": "", **data}
    if files is None:
        files = {"file": SimpleUploadedFile("flow.pipeline", b'{"doc_type": "pipeline"}')}
    return UploadPipelineForm(fields, files)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "filename", ["a.pipeline", "a.zip", "a.yaml", "a.yml", "a.json", "UPPER.YAML"]
)
def test_accepts_each_pipeline_file_type(filename: str) -> None:
    f = form({"file": SimpleUploadedFile(filename, b"x")}, name="new-one")
    assert f.is_valid(), f.errors


@pytest.mark.django_db
@pytest.mark.parametrize("filename", ["notes.txt", "model.py", "pipeline", "archive.tar.gz"])
def test_refuses_other_files_naming_them(filename: str) -> None:
    f = form({"file": SimpleUploadedFile(filename, b"x")}, name="n")
    assert not f.is_valid()
    assert f.errors["file"] == [
        f"“{filename}” is not a pipeline file: expected one of .pipeline, .zip, .yaml, .yml, .json."
    ]


@pytest.mark.django_db
def test_refuses_a_file_over_the_limit(settings) -> None:
    settings.YDP_MAX_UPLOAD_BYTES = 32 * 1024 * 1024
    big = SimpleUploadedFile("big.zip", b"0" * (32 * 1024 * 1024 + 1))
    f = form({"file": big}, name="n")
    assert not f.is_valid()
    assert "the limit is 32.0\xa0MB" in f.errors["file"][0]
    exact = SimpleUploadedFile("ok.zip", b"0" * (32 * 1024 * 1024))
    assert form({"file": exact}, name="n").is_valid()


@pytest.mark.django_db
def test_refuses_an_empty_file() -> None:
    f = form({"file": SimpleUploadedFile("empty.yaml", b"")}, name="n")
    assert not f.is_valid()
    assert "file" in f.errors


@pytest.mark.django_db
def test_requires_a_file() -> None:
    f = form({}, name="n")
    assert not f.is_valid()
    assert f.errors["file"] == ["Choose a pipeline file, or give its URL below."]


@pytest.mark.django_db
def test_new_pipeline_needs_a_fresh_name() -> None:
    f = form(name="   ")
    assert not f.is_valid()
    assert f.errors["name"] == ["Give the new pipeline a name."]
    Pipeline.objects.create(name="Churn")
    f = form(name="churn")
    assert not f.is_valid()
    assert "already exists" in f.errors["name"][0]


@pytest.mark.django_db
def test_new_version_needs_a_pipeline() -> None:
    f = form(target="existing")
    assert not f.is_valid()
    assert f.errors["pipeline"] == ["Choose the pipeline this is a version of."]
    f = form(target="existing", pipeline="987654")
    assert not f.is_valid()
    assert "pipeline" in f.errors


@pytest.mark.django_db
def test_new_version_name_must_be_unused_in_that_pipeline() -> None:
    pipeline = Pipeline.objects.create(name="churn")
    other = Pipeline.objects.create(name="other")
    PipelineVersion.objects.bulk_create(
        [
            PipelineVersion(
                pipeline=pipeline, name="v1", source_format="argo", manifest={}, content_hash="x"
            )
        ]
    )
    f = form(target="existing", pipeline=str(pipeline.pk), version_name="v1")
    assert not f.is_valid()
    assert f.errors["version_name"] == ["“churn” already has a version named “v1”."]
    assert form(target="existing", pipeline=str(other.pk), version_name="v1").is_valid()
    assert form(target="existing", pipeline=str(pipeline.pk), version_name="v2").is_valid()


@pytest.mark.django_db
def test_unknown_target_is_refused() -> None:
    f = form(target="both", name="x")
    assert not f.is_valid()
    assert "target" in f.errors


@pytest.mark.django_db
def test_values_are_trimmed() -> None:
    f = form(name="  churn  ", version_name=" v1 ")
    assert f.is_valid(), f.errors
    assert f.cleaned_data["name"] == "churn" and f.cleaned_data["version_name"] == "v1"
