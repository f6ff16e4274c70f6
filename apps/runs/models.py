import uuid

from django.conf import settings
from django.db import models
from django.db.models import F
from django.urls import reverse

from apps.runs.constants import (
    RUN_ACTIVE_STATES,
    RUN_FINAL_STATES,
    STEP_FINAL_PHASES,
    ArtifactKind,
    MetricFormat,
    RunState,
    StepPhase,
)

# The path from a run to its project (apps.projects.scope): a run belongs to its experiment's.
RUN_PROJECT = "experiment__project"
# A step whose outputs are on their way: a finished pod whose log and artifacts the copy
# (apps/runs/outputs.py, queued by the sync) has neither stored nor given up on. The one home
# of that rule: Step.outputs_pending says the same of a loaded row; queries.py and the API
# build on them. The copy sets both flags at once; naming log_fetched lets the database answer
# from the small partial index step_outputs_pending (the steps not copied yet).
STEP_OUTPUTS_PENDING = models.Q(
    node_type="Pod",
    phase__in=STEP_FINAL_PHASES,
    log_fetched=False,
    artifacts_fetched=False,
    outputs_error="",
)


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
        "recurring.RecurringRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
    )
    cloned_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="clones"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # How long the run took (null until it has both ends), computed and stored by the database
    # whatever writes the ends (a save, QuerySet.update(), raw SQL): the duration sort's column.
    took = models.GeneratedField(
        expression=F("finished_at") - F("started_at"),
        output_field=models.DurationField(),
        db_persist=True,
    )
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
            # Migration 0009 adds, per database: the duration sort's indexes (took, id) either
            # way with the unfinished runs last (NULLS LAST is PostgreSQL's; SQLite's indexes
            # take no NULLS clause), and the text search's trigram indexes (PostgreSQL only).
            # The sync task's query: the runs that are not final yet. Keyed by a column the
            # sync never writes: every pass sets every active run's last_synced_at, and a key
            # there made each of those updates insert into all of the table's indexes (no
            # HOT update; 49-51 -> 32-36 ms of CPU for a pass's UPDATE of 1,000 runs).
            models.Index(
                fields=["submitted_at"],
                name="run_active_submitted",
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
    # finished - started, stored by the database (the Executions list's duration sort).
    took = models.GeneratedField(
        expression=F("finished_at") - F("started_at"),
        output_field=models.DurationField(),
        db_persist=True,
    )
    resources = models.JSONField(default=dict, blank=True)
    inputs = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True)
    log_fetched = models.BooleanField(default=False)
    artifacts_fetched = models.BooleanField(default=False)
    # Why copying the outputs failed for good (not a transient Argo error): the reconciler
    # leaves such a step alone, and its panel says why its outputs are missing.
    outputs_error = models.TextField(blank=True)
    # A digest of Argo's node as the sync last copied it (apps/runs/sync.py): a pass compares
    # a node's values with the row only when the digest differs.
    sync_digest = models.CharField(max_length=16, blank=True, default="", db_default="")

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
            # Migration 0010 adds the Executions list's indexes per database (NULLS LAST is
            # PostgreSQL's): (started_at, id), (phase, started_at, id) and (took, id), newest or
            # longest first, over the steps that are not bookkeeping nodes.
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_finished(self) -> bool:
        return self.phase in STEP_FINAL_PHASES

    @property
    def outputs_pending(self) -> bool:
        """STEP_OUTPUTS_PENDING, read off this row."""
        return (
            self.node_type == "Pod"
            and self.phase in STEP_FINAL_PHASES
            and not self.log_fetched
            and not self.artifacts_fetched
            and not self.outputs_error
        )

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
            # The Artifacts list's pages: newest first (all, or of a kind), by size, by name;
            # the id breaks ties, as the list's order does.
            models.Index(fields=["-created_at", "-id"], name="artifact_list_created"),
            models.Index(fields=["kind", "-created_at", "-id"], name="artifact_list_kind"),
            models.Index(fields=["-size", "-id"], name="artifact_list_size"),
            models.Index(fields=["name", "id"], name="artifact_list_name"),
            models.Index(fields=["run", "name"], name="artifact_run_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Metric(models.Model):
    # No index of its own: the unique (run, name) serves lookups by run.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="metrics", db_index=False)
    step = models.ForeignKey(
        Step,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="metrics",
        db_index=False,  # metric_step: most metrics belong to no step
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
            # Deleting a step deletes its metrics: the few that have one.
            models.Index(
                fields=["step"], name="metric_step", condition=models.Q(step__isnull=False)
            ),
            # A run's value of a metric, read from the index alone: the runs list's probes of
            # the predicates it does not join (queries.metric_value) and of the capped counts
            # (queries._capped_counts), a fixed number a page whatever the number of runs.
            models.Index(fields=["run", "name", "value"], name="metric_run_value"),
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


class MetricPoint(models.Model):
    """One point of a metric's history, logged by a step with log_metric (docs/steps.md); the
    last point of each name is also the run's Metric of that name (what the runs list reads)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="metric_points")
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.CASCADE, related_name="metric_points"
    )
    # The name as the run's Metric row has it ("<step>/<name>" when two steps log one name).
    name = models.CharField(max_length=200)
    index = models.BigIntegerField()  # the step/epoch the point was logged at
    value = models.FloatField()
    logged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "index", "pk"]
        indexes = [
            # The Output tab and the compare page: WHERE run IN (...) ORDER BY name, index.
            models.Index(fields=["run", "name", "index"], name="metricpoint_run_name_index"),
        ]

    def __str__(self) -> str:
        return f"{self.name}[{self.index}]={self.value}"


class RunStateCount(models.Model):
    """How many runs an experiment has in each state, archived or not: the runs list's state
    counts, read in O(experiments x states) instead of counting every run. Kept by database
    triggers on runs_run (migration 0011) on every insert, update and delete, bulk ones and
    raw SQL included; the app never writes it."""

    experiment_id = models.BigIntegerField()
    archived = models.BooleanField()
    state = models.CharField(max_length=12)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment_id", "archived", "state"], name="run_state_count_key"
            )
        ]

    def __str__(self) -> str:
        archived = " (archived)" if self.archived else ""
        return f"{self.experiment_id}/{self.state}{archived}: {self.n}"


class StepPhaseCount(models.Model):
    """Steps per experiment (their run's) and phase, bookkeeping nodes (DAG, Steps, Retry...)
    apart: the Executions list's phase counts, a project's the sum over its experiments. Kept
    by database triggers (apps/runs/state_counts.py, migrations 0012, 0013 and 0015)."""

    experiment_id = models.BigIntegerField(null=True)
    bookkeeping = models.BooleanField()
    phase = models.CharField(max_length=12)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment_id", "bookkeeping", "phase"], name="step_phase_count_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.phase}: {self.n}"


class ArtifactKindCount(models.Model):
    """Artifacts per experiment (their run's) and kind: the Artifacts list's kind counts. Kept by
    database triggers (apps/runs/state_counts.py, migrations 0012, 0013 and 0015)."""

    experiment_id = models.BigIntegerField(null=True)
    kind = models.CharField(max_length=20)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment_id", "kind"], name="artifact_kind_count_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.n}"
