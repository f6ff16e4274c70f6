import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse

from apps.pipelines.constants import SourceFormat
from apps.projects.models import default_project


class Pipeline(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.PROTECT,
        related_name="+",
        default=default_project,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Unique in its project only: a name taken elsewhere must not leak through a refusal.
            models.UniqueConstraint(fields=["project", "name"], name="pipeline_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("pipelines:detail", args=[self.pk])

    def latest_version(self) -> "PipelineVersion | None":
        return self.versions.order_by("-created_at").first()


def bundle_upload_to(instance: "PipelineVersion", filename: str) -> str:
    return f"bundles/{instance.pipeline_id}/{instance.id}.zip"


class PipelineVersion(models.Model):
    """An immutable version: the uploaded files, the parsed spec and the rendered manifest."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="versions")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source_format = models.CharField(max_length=10, choices=SourceFormat.choices)
    source_filename = models.CharField(max_length=255, help_text="The file as it was uploaded.")
    # A zip of the uploaded files (the .pipeline/.yaml file and every file its nodes reference).
    bundle = models.FileField(upload_to=bundle_upload_to, max_length=255)
    bundle_size = models.PositiveBigIntegerField(default=0)
    # The pipeline in one internal shape (apps.pipelines.spec.PipelineSpec.to_dict()); for an
    # Argo upload, the shape of its graph only.
    spec = models.JSONField(default=dict)
    # The canonical Argo Workflow manifest (rendered by Hera for Elyra, validated for Argo).
    manifest = models.JSONField()
    # Declared runtime parameters: [{"name", "type", "default", "description", "required"}].
    parameters = models.JSONField(default=list)
    node_count = models.PositiveIntegerField(default=0)
    content_hash = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="pipelineversion_unique_name")
        ]
        indexes = [models.Index(fields=["pipeline", "-created_at"], name="pv_pipeline_created")]

    def __str__(self) -> str:
        return f"{self.pipeline.name} / {self.name}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValueError("A pipeline version is immutable once created.")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("pipelines:version", args=[self.pipeline_id, self.pk])


class EngineCheck(models.Model):
    """Whether the configured Argo accepts a version's manifest (its lint call), kept apart
    from the immutable version: a check is redone when Argo was unreachable or changed."""

    class Outcome(models.TextChoices):
        OK = "ok", "Accepted"
        REFUSED = "refused", "Refused"
        UNCHECKED = "unchecked", "Could not be checked"

    version = models.OneToOneField(
        PipelineVersion, on_delete=models.CASCADE, primary_key=True, related_name="engine_check"
    )
    server = models.CharField(max_length=500, help_text="The Argo server that was asked.")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    message = models.TextField(blank=True)
    checked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.version_id}: {self.outcome}"
