import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from apps.runs.constants import (
    RUN_ACTIVE_STATES,
    RUN_FINAL_STATES,
    STEP_FINAL_PHASES,
    ArtifactKind,
    MetricFormat,
    RunState,
    StepPhase,
    TriggerType,
)


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


class Run(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.PROTECT, related_name="runs"
    )
    pipeline_version = models.ForeignKey(
        "pipelines.PipelineVersion", on_delete=models.PROTECT, related_name="runs"
    )
    parameters = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=12, choices=RunState.choices, default=RunState.PENDING)
    message = models.TextField(blank=True, help_text="Why the run is in its state.")
    workflow_name = models.CharField(max_length=253, blank=True)
    workflow_namespace = models.CharField(max_length=63, blank=True)
    workflow_uid = models.CharField(max_length=64, blank=True)
    # Argo's resourceVersion of the workflow when the sync last copied it: equal means unchanged.
    workflow_resource_version = models.CharField(max_length=32, blank=True)
    recurring_run = models.ForeignKey(
        RecurringRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    cloned_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="clones"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Sync bookkeeping: when Argo last told us about this run, and why it could not.
    last_synced_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["experiment", "-created_at"], name="run_experiment_created"),
            models.Index(fields=["state", "-created_at"], name="run_state_created"),
            models.Index(fields=["archived_at", "-created_at"], name="run_archived_created"),
            models.Index(fields=["pipeline_version", "-created_at"], name="run_version_created"),
            models.Index(fields=["recurring_run", "-created_at"], name="run_recurring_created"),
            # The runs list (Active tab): newest first with the id as tie-break (keyset pages),
            # per state too, and the state counts read from this index alone.
            models.Index(
                fields=["-created_at", "-id"],
                name="run_list_active_created",
                condition=models.Q(archived_at__isnull=True),
            ),
            models.Index(
                fields=["state", "-created_at", "-id"],
                name="run_list_active_state",
                condition=models.Q(archived_at__isnull=True),
            ),
            models.Index(
                fields=["name", "id"],
                name="run_list_active_name",
                condition=models.Q(archived_at__isnull=True),
            ),
            # The sync task's query: the runs that are not final yet.
            models.Index(
                fields=["last_synced_at"],
                name="run_active_last_synced",
                condition=models.Q(state__in=["Pending", "Running"]),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("runs:detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.state in RUN_FINAL_STATES

    @property
    def is_active(self) -> bool:
        return self.state in RUN_ACTIVE_STATES

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def duration(self):
        if self.started_at is None:
            return None
        from django.utils import timezone

        return (self.finished_at or timezone.now()) - self.started_at


class Step(models.Model):
    """An execution of one node of a run (an Argo node)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    node_id = models.CharField(max_length=253)
    name = models.CharField(max_length=253, help_text="Argo's node name (path in the workflow).")
    display_name = models.CharField(max_length=253)
    template_name = models.CharField(max_length=253, blank=True)
    node_type = models.CharField(max_length=32, blank=True)
    phase = models.CharField(max_length=12, choices=StepPhase.choices, default=StepPhase.PENDING)
    message = models.TextField(blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    pod_name = models.CharField(max_length=253, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    resources = models.JSONField(default=dict, blank=True)
    inputs = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True)
    log_fetched = models.BooleanField(default=False)
    artifacts_fetched = models.BooleanField(default=False)
    # Why copying the outputs failed for good (not a transient Argo error): the reconciler
    # leaves such a step alone, and its panel says why its outputs are missing.
    outputs_error = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "node_id"], name="step_unique_node")]
        indexes = [
            models.Index(fields=["phase", "-started_at"], name="step_phase_started"),
            # The reconciler's query: finished steps whose outputs were never copied and whose
            # copy did not fail for good (fetch_missing_outputs).
            models.Index(
                fields=["finished_at"],
                name="step_outputs_pending",
                condition=models.Q(log_fetched=False, outputs_error=""),
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_finished(self) -> bool:
        return self.phase in STEP_FINAL_PHASES

    @property
    def duration(self):
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


def artifact_upload_to(instance: "Artifact", filename: str) -> str:
    return f"artifacts/{instance.run_id}/{filename}"


class Artifact(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="artifacts")
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.CASCADE, related_name="artifacts"
    )
    name = models.CharField(max_length=253)
    kind = models.CharField(max_length=20, choices=ArtifactKind.choices, default=ArtifactKind.FILE)
    file = models.FileField(upload_to=artifact_upload_to, max_length=500, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    media_type = models.CharField(max_length=127, blank=True)
    # Inline data for visualizations (confusion matrix cells, ROC points, table rows, ...).
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["kind", "-created_at"], name="artifact_kind_created"),
            models.Index(fields=["run", "name"], name="artifact_run_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Metric(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="metrics")
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.CASCADE, related_name="metrics"
    )
    name = models.CharField(max_length=200)
    value = models.FloatField()
    format = models.CharField(max_length=12, choices=MetricFormat.choices, default=MetricFormat.RAW)
    # Copies of the run's experiment, state and archived flag, so that the runs list filters
    # and sorts by a metric from one index. Database triggers (migration 0002) keep them in
    # step with the run on every write, bulk updates included; the app never sets them.
    run_experiment_id = models.BigIntegerField(null=True, blank=True, editable=False)
    run_state = models.CharField(max_length=12, blank=True, editable=False)
    run_archived = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["run", "name"], name="metric_unique_run_name")
        ]
        indexes = [
            # Filter and sort runs by a metric: WHERE name = ? AND value > ? ORDER BY value.
            models.Index(fields=["name", "value", "run"], name="metric_name_value_run"),
            # The runs list with a metric filter or sort, across experiments / in one.
            models.Index(
                fields=["name", "run_archived", "value", "run"],
                include=["run_state"],
                name="metric_list_all",
            ),
            models.Index(
                fields=["name", "run_experiment_id", "run_archived", "value", "run"],
                include=["run_state"],
                name="metric_list_experiment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
