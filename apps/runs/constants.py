from django.db import models


class RunState(models.TextChoices):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"
    TERMINATED = "Terminated"
    SKIPPED = "Skipped"


RUN_FINAL_STATES = frozenset(
    {RunState.SUCCEEDED, RunState.FAILED, RunState.ERROR, RunState.TERMINATED, RunState.SKIPPED}
)
RUN_ACTIVE_STATES = frozenset({RunState.PENDING, RunState.RUNNING})


class StepPhase(models.TextChoices):
    """Argo's node phases, plus Omitted for a step that will not run."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    SKIPPED = "Skipped"
    FAILED = "Failed"
    ERROR = "Error"
    OMITTED = "Omitted"


STEP_FINAL_PHASES = frozenset(
    {StepPhase.SUCCEEDED, StepPhase.SKIPPED, StepPhase.FAILED, StepPhase.ERROR, StepPhase.OMITTED}
)


class ArtifactKind(models.TextChoices):
    HTML = "html", "HTML"
    MARKDOWN = "markdown", "Markdown"
    TABLE = "table", "Table"
    CONFUSION_MATRIX = "confusion_matrix", "Confusion matrix"
    ROC = "roc", "ROC curve"
    IMAGE = "image", "Image"
    NOTEBOOK = "notebook", "Notebook"
    METRICS = "metrics", "Metrics"
    LOG = "log", "Log"
    FILE = "file", "File"


class MetricFormat(models.TextChoices):
    RAW = "RAW", "Raw"
    PERCENTAGE = "PERCENTAGE", "Percentage"
