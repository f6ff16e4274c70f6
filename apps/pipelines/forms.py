"""The upload form: a new pipeline, or a new version of an existing one, from one file or URL."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from apps.pipelines import url_fetch
from apps.pipelines.importers.bundle import max_upload_bytes
from apps.pipelines.models import Pipeline, PipelineVersion
from apps.projects.models import default_project

# What an upload may be: an Elyra .pipeline file, a zip of a pipeline folder, or Argo YAML/JSON.
ALLOWED_SUFFIXES = (".pipeline", ".zip", ".yaml", ".yml", ".json")


class UploadPipelineForm(forms.Form):
    NEW = "new"
    EXISTING = "existing"

    target = forms.ChoiceField(
        label="Upload as",
        choices=[(NEW, "A new pipeline"), (EXISTING, "A new version of an existing pipeline")],
        initial=NEW,
        widget=forms.RadioSelect,
    )
    name = forms.CharField(
        label="Pipeline name",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "e.g. churn-model"}),
    )
    pipeline = forms.ModelChoiceField(
        label="Pipeline",
        queryset=Pipeline.objects.order_by("name").only("id", "name"),
        required=False,
        empty_label="Choose a pipeline…",
    )
    version_name = forms.CharField(
        label="Version name",
        max_length=200,
        required=False,
        help_text="Leave empty to number it: v1, v2, …",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "e.g. v2"}),
    )
    description = forms.CharField(
        label="Description",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What it does, what changed"}),
    )
    file = forms.FileField(
        label="Pipeline file",
        required=False,
        help_text=(
            "An Elyra .pipeline file, a .zip of the pipeline folder (the .pipeline file and the "
            "files its nodes use), or Argo Workflow YAML/JSON. Up to 32 MiB."
        ),
        widget=forms.FileInput(attrs={"accept": ",".join(ALLOWED_SUFFIXES)}),
    )
    url = forms.URLField(
        label="Or its URL",
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text="An https:// link to the same kinds of file, fetched by the server.",
        widget=forms.URLInput(
            attrs={"autocomplete": "off", "placeholder": "https://…/my.pipeline"}
        ),
    )
    allow_missing = forms.BooleanField(
        label="Upload anyway, without the missing files",
        required=False,
        help_text="The version page will warn that runs fail at the nodes that need them.",
    )

    def __init__(self, *args: Any, project_id: int | None = None, **kwargs: Any) -> None:
        """`project_id`: the project a new pipeline goes to, whose pipelines are the choices."""
        super().__init__(*args, **kwargs)
        self.project_id = default_project() if project_id is None else project_id
        field = self.fields["pipeline"]
        field.queryset = field.queryset.filter(project_id=self.project_id)  # type: ignore[attr-defined]

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean_version_name(self) -> str:
        return self.cleaned_data["version_name"].strip()

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        if url:
            try:
                url_fetch.check_url(url)
            except url_fetch.FetchError as error:
                raise forms.ValidationError(str(error)) from None
        return url

    def clean_file(self) -> UploadedFile | None:
        upload: UploadedFile | None = self.cleaned_data["file"]
        if upload is None:
            return None
        suffix = PurePosixPath(upload.name or "").suffix.lower()
        if suffix not in ALLOWED_SUFFIXES:
            raise forms.ValidationError(
                f"“{upload.name}” is not a pipeline file: expected one of "
                f"{', '.join(ALLOWED_SUFFIXES)}."
            )
        limit = max_upload_bytes()
        if upload.size is not None and upload.size > limit:
            raise forms.ValidationError(
                f"“{upload.name}” is {filesizeformat(upload.size)}; the limit is "
                f"{filesizeformat(limit)}."
            )
        if not upload.size:
            raise forms.ValidationError(f"“{upload.name}” is empty.")
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        has_file = bool(data.get("file")) or "file" in self.errors
        has_url = bool(data.get("url")) or "url" in self.errors
        if has_file and has_url:
            self.add_error("url", "Choose a file or give a URL, not both.")
        elif not has_file and not has_url:
            self.add_error("file", "Choose a pipeline file, or give its URL below.")
        target = data.get("target")
        if target == self.NEW:
            name = data.get("name")
            if not name:
                self.add_error("name", "Give the new pipeline a name.")
            elif Pipeline.objects.filter(project_id=self.project_id, name__iexact=name).exists():
                self.add_error(
                    "name",
                    f"A pipeline named “{name}” already exists: upload the file as a new version "
                    "of it instead.",
                )
        elif target == self.EXISTING:
            pipeline = data.get("pipeline")
            if pipeline is None:
                if "pipeline" not in self.errors:
                    self.add_error("pipeline", "Choose the pipeline this is a version of.")
            elif (
                data.get("version_name")
                and PipelineVersion.objects.filter(
                    pipeline=pipeline, name=data["version_name"]
                ).exists()
            ):
                self.add_error(
                    "version_name",
                    f"“{pipeline.name}” already has a version named “{data['version_name']}”.",
                )
        return data
