"""Terminating and retrying a run: the rules both the run page and the API follow.

Each function does the action or raises ActionError with the sentence to show; it returns the
sentence that says what happened."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.orchestration.argo import ArgoError, get_client
from apps.orchestration.queue import QUEUE_DOWN_MESSAGE, enqueue_on_commit
from apps.runs.constants import RunState
from apps.runs.models import Run
from apps.runs.services import mark_rerun
from apps.runs.tasks import submit_run

RETRYABLE = frozenset({RunState.FAILED, RunState.ERROR})


class ActionError(Exception):
    """The action was not done; `conflict` says it was refused by the run's state (not by
    Argo being away or refusing)."""

    def __init__(self, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict


def terminate_run(run: Run, user: Any) -> str:
    """Stop an active run: before its submit, by marking it (the pending submit then does
    nothing); on Argo, by asking Argo to terminate the workflow."""
    if not run.is_active:
        raise ActionError(
            f"“{run.name}” is {run.state.lower()}: nothing to terminate.", conflict=True
        )
    who = user.get_username()
    if run.submitted_at is None:
        updated = Run.objects.filter(pk=run.pk, submitted_at__isnull=True).update(
            state=RunState.TERMINATED,
            message=f"Terminated by {who} before it was submitted.",
            finished_at=timezone.now(),
        )
        if updated:
            return "Terminated before it reached Argo."
    try:
        get_client().terminate_workflow(run.workflow_name, namespace=run.workflow_namespace or None)
    except ArgoError as exc:
        raise ActionError(f"Could not terminate the run: {exc}") from exc
    Run.objects.filter(pk=run.pk).update(message=f"Termination requested by {who}.")
    return "Termination requested: the running steps are being stopped."


def retry_run(run: Run, user: Any) -> str:
    """Run a failed run's failed steps again (a run that never reached Argo is submitted
    again). Raises ActionError; a message ending in QUEUE_DOWN_MESSAGE is still a success."""
    if run.state not in RETRYABLE:
        raise ActionError(
            f"Only a failed run can be retried; “{run.name}” is {run.state}.", conflict=True
        )
    if run.submitted_at is None:
        # It never reached Argo (refused or unreachable at submit): submit it again.
        with transaction.atomic():
            Run.objects.filter(pk=run.pk).update(
                state=RunState.PENDING, message="Submitting again.", finished_at=None,
                sync_error="",
            )  # fmt: skip
            submission = enqueue_on_commit(submit_run, str(run.pk))
        if submission.failed:
            return f"Retry {QUEUE_DOWN_MESSAGE}."
        return "Submitting the run again."
    try:
        get_client().retry_workflow(run.workflow_name, namespace=run.workflow_namespace or None)
    except ArgoError as exc:
        raise ActionError(f"Could not retry the run: {exc}") from exc
    # Back to Running so that the sync follows it again and the page polls.
    with transaction.atomic():
        Run.objects.filter(pk=run.pk).update(
            state=RunState.RUNNING,
            finished_at=None,
            message=f"Retried by {user.get_username()}: failed steps run again.",
            sync_error="",
        )
        mark_rerun(run)
    return "Retrying: the failed steps run again."
