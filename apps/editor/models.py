"""A draft: a pipeline being built in the browser editor, saved as the user works.

The graph lives in `document` (apps.editor.document); the files in DraftFile rows, each stored in
the default storage like an upload's bundle. `revision` makes saves optimistic: a save names the
revision it started from and is refused when another tab or person saved in between.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse

from apps.projects.models import default_project


class Draft(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pipeline_drafts"
    )
    name = models.CharField(max_length=200)
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.PROTECT,
        related_name="+",
        default=default_project,
    )
    # The pipeline a "Save as version" adds to; empty: a new pipeline named after the draft.
    pipeline = models.ForeignKey(
        "pipelines.Pipeline", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The version the draft was opened from, if any (shown on the page, not needed to save).
    base_version = models.ForeignKey(
        "pipelines.PipelineVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    document = models.JSONField(default=dict)
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            # The drafts list: one owner's drafts, most recently changed first.
            models.Index(fields=["owner", "-updated_at"], name="draft_owner_updated"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("editor:edit", args=[self.pk])


def draft_file_upload_to(instance: DraftFile, filename: str) -> str:
    return f"drafts/{instance.draft_id}/{uuid.uuid4().hex}"


class DraftFile(models.Model):
    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=500, help_text="'/'-separated, relative to the pipeline.")
    content = models.FileField(upload_to=draft_file_upload_to, max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["draft", "path"], name="draftfile_unique_path")
        ]

    def __str__(self) -> str:
        return self.path
