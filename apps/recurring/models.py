"""RecurringRun: a schedule that starts runs of a pipeline (one Argo CronWorkflow each).

The model moved here from apps.runs; its table kept its name (runs_recurringrun), see
migrations/0001_initial.py."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from apps.recurring.constants import TriggerType


class RecurringRun(models.Model):
    """A schedule that starts runs; one Argo CronWorkflow each."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.PROTECT, related_name="recurring_runs"
    )
    pipeline = models.ForeignKey(
        "pipelines.Pipeline", on_delete=models.PROTECT, related_name="recurring_runs"
    )
    # Null means "always the latest version of the pipeline".
    pipeline_version = models.ForeignKey(
        "pipelines.PipelineVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="recurring_runs",
    )
    parameters = models.JSONField(default=dict, blank=True)
    trigger_type = models.CharField(max_length=10, choices=TriggerType.choices)
    cron = models.CharField(max_length=120, blank=True, help_text="5-field cron expression.")
    interval_seconds = models.PositiveIntegerField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    max_concurrency = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    catchup = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    cron_workflow_name = models.CharField(max_length=63, blank=True)
    namespace = models.CharField(max_length=63, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Counts the user's changes to the settings (not the sync's bookkeeping): an edit carries
    # the revision it started from, and a stale one is refused instead of overwriting.
    revision = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "runs_recurringrun"  # created by the runs app; the table stayed
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_concurrency__gte=1, max_concurrency__lte=10),
                name="recurringrun_max_concurrency_1_10",
            ),
            models.CheckConstraint(
                condition=models.Q(end_at__isnull=True)
                | models.Q(start_at__isnull=True)
                | models.Q(end_at__gt=models.F("start_at")),
                name="recurringrun_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("recurring:detail", args=[self.pk])
