"""Creating runs: the one place a Run row is born, whether from the form, a clone or a shell."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.experiments.models import Experiment
from apps.orchestration.queue import enqueue_on_commit
from apps.pipelines.models import PipelineVersion
from apps.runs.constants import StepPhase
from apps.runs.models import Run, Step
from apps.runs.parameters import resolve_parameters
from apps.runs.tasks import submit_run


def workflow_name_for(run: Run) -> str:
    """Derived from the run id, so a repeated submit can only ever meet its own workflow."""
    return f"run-{run.id.hex}"


def create_run(
    *,
    version: PipelineVersion,
    experiment: Experiment,
    parameters: dict[str, Any] | None = None,
    name: str = "",
    description: str = "",
    user: Any = None,
    cloned_from: Run | None = None,
) -> Run:
    """Create a Pending run and queue its submission once the transaction commits.

    `run.submission` tells whether the submit reached the task queue (after the commit); when
    the broker is away the run stays Pending and the reconciler submits it later.
    Raises django.core.exceptions.ValidationError for bad parameters; nothing is stored then."""
    if experiment.archived_at is not None:
        raise ValidationError(
            {"experiment": f"Experiment {experiment.name!r} is archived: restore it to add runs."}
        )
    values = resolve_parameters(version.parameters, parameters or {})
    with transaction.atomic():
        run = Run(
            name=name or f"{version.pipeline.name} {version.name}",
            description=description,
            experiment=experiment,
            pipeline_version=version,
            parameters=values,
            created_by=user if getattr(user, "is_authenticated", False) else None,
            cloned_from=cloned_from,
            progress_total=version.node_count,
        )
        run.workflow_name = workflow_name_for(run)
        run.save()
        run.submission = enqueue_on_commit(submit_run, str(run.id))
    return run


def mark_rerun(run: Run) -> int:
    """After Argo accepted a retry of the run: the steps it runs again (all but the succeeded
    and skipped ones, which Argo keeps) wait again, and their log, outputs and failure reason
    are copied anew when they end, since the sync cannot tell a re-run that ended within the
    same second from the old one."""
    return (
        Step.objects.filter(run=run)
        .exclude(phase__in=[StepPhase.SUCCEEDED, StepPhase.SKIPPED])
        .update(
            phase=StepPhase.PENDING,
            message="",
            finished_at=None,
            log_fetched=False,
            artifacts_fetched=False,
            # The sync skips a node whose JSON matches what it last copied: a re-run that ended
            # within the same second as the old attempt would match it, and stay Pending here.
            sync_digest="",
        )
    )
