"""Archiving, restoring and deleting experiments: the experiment, its runs and its recurring runs
move together.

Archive: refused while a run of the experiment is active (terminate it or let it end). Its
recurring runs are disabled first (each one's CronWorkflow suspended on Argo, one by one); if
Argo refuses one, those already disabled are enabled again and nothing is archived. Then the
experiment and its runs get one timestamp, so that a restore brings back exactly those runs.
Restore: the experiment and the runs archived with it; recurring runs stay disabled (a schedule
that starts by itself again should be a decision), and the result says so.
Delete: only an archived experiment, with its runs, their artifacts' files and its recurring
runs (their CronWorkflows deleted on Argo)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from apps.experiments.models import Experiment
from apps.recurring.models import RecurringRun
from apps.recurring.services import RecurringError, delete_recurring_run, set_enabled
from apps.runs.archive import delete_run_rows
from apps.runs.constants import RUN_ACTIVE_STATES
from apps.runs.models import Run


class ExperimentArchiveError(Exception):
    """The action cannot be done as asked; the message says why and what to do."""


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class ArchiveResult:
    runs: int
    recurring_disabled: int = 0

    def message(self, experiment: Experiment) -> str:
        text = f"Archived “{experiment.name}” and {_plural(self.runs, 'run')}"
        if self.recurring_disabled:
            text += f"; {_plural(self.recurring_disabled, 'recurring run')} disabled"
        return text + ". Find them under Archived; Restore brings them back."


@dataclass(frozen=True)
class RestoreResult:
    runs: int
    recurring_disabled: int = 0  # the experiment's recurring runs that stay disabled

    def message(self, experiment: Experiment) -> str:
        text = (
            f"Restored experiment “{experiment.name}” and the {_plural(self.runs, 'run')} "
            "archived with it"
        )
        if self.recurring_disabled:
            verb = "stays" if self.recurring_disabled == 1 else "stay"
            text += (
                f"; {_plural(self.recurring_disabled, 'recurring run')} {verb} disabled — "
                "enable them on their pages"
            )
        return text + "."


@dataclass(frozen=True)
class DeleteResult:
    runs: int
    recurring_runs: int
    files: int

    def message(self, name: str) -> str:
        text = f"Deleted experiment “{name}”, {_plural(self.runs, 'run')}"
        if self.recurring_runs:
            text += f", {_plural(self.recurring_runs, 'recurring run')}"
        return text + f" and {_plural(self.files, 'artifact file')}."


def active_runs(experiment: Experiment) -> list[Run]:
    return list(
        Run.objects.filter(experiment=experiment, state__in=RUN_ACTIVE_STATES).only("id", "name")
    )


def _refuse_active(experiment: Experiment, runs: list[Run]) -> None:
    names = ", ".join(f"“{run.name}”" for run in runs[:3]) + (" …" if len(runs) > 3 else "")
    raise ExperimentArchiveError(
        f"“{experiment.name}” has {_plural(len(runs), 'active run')} ({names}): terminate "
        f"{'it' if len(runs) == 1 else 'them'} or let {'it' if len(runs) == 1 else 'them'} "
        "end, then archive the experiment."
    )


def archive_experiment(experiment: Experiment) -> ArchiveResult:
    """Archive the experiment, its runs not archived yet, and disable its recurring runs.
    Raises ExperimentArchiveError (active runs, Argo refused a disable): nothing changed then."""
    if experiment.archived_at is not None:
        return ArchiveResult(runs=0)
    running = active_runs(experiment)
    if running:
        _refuse_active(experiment, running)
    disabled = _disable_recurring(experiment)
    now = timezone.now()
    try:
        with transaction.atomic():
            locked = Experiment.objects.select_for_update().get(pk=experiment.pk)
            if locked.archived_at is not None:
                return ArchiveResult(runs=0)
            # A run may have started since the first check: look again under the lock.
            running = active_runs(locked)
            if running:
                _refuse_active(locked, running)
            locked.archived_at = now
            locked.save(update_fields=["archived_at"])
            runs = Run.objects.filter(experiment=locked, archived_at__isnull=True).update(
                archived_at=now
            )
    except BaseException:
        _enable_again(disabled)
        raise
    experiment.archived_at = now
    return ArchiveResult(runs=runs, recurring_disabled=len(disabled))


def _disable_recurring(experiment: Experiment) -> list[RecurringRun]:
    """Disable every enabled recurring run; all or none (Argo's refusal undoes the others)."""
    disabled: list[RecurringRun] = []
    for recurring in RecurringRun.objects.filter(experiment=experiment, enabled=True):
        try:
            set_enabled(recurring, False)
        except RecurringError as exc:
            _enable_again(disabled)
            raise ExperimentArchiveError(
                f"Could not disable the recurring run “{recurring.name}”: {exc} "
                f"“{experiment.name}” was not archived."
            ) from exc
        disabled.append(recurring)
    return disabled


def _enable_again(recurring_runs: list[RecurringRun]) -> None:
    for recurring in recurring_runs:
        # If it fails it stays disabled, which its page shows: never worse than before.
        with contextlib.suppress(RecurringError):
            set_enabled(recurring, True)


def restore_experiment(experiment: Experiment) -> RestoreResult:
    """Bring the experiment back with the runs archived along with it; runs archived on their
    own before (another timestamp) stay archived, and so do disabled recurring runs."""
    with transaction.atomic():
        locked = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if locked.archived_at is None:
            return RestoreResult(runs=0)
        runs = Run.objects.filter(experiment=locked, archived_at=locked.archived_at).update(
            archived_at=None
        )
        locked.archived_at = None
        locked.save(update_fields=["archived_at"])
        disabled = RecurringRun.objects.filter(experiment=locked, enabled=False).count()
    experiment.archived_at = None
    return RestoreResult(runs=runs, recurring_disabled=disabled)


def runs_to_restore(experiment: Experiment) -> int:
    if experiment.archived_at is None:
        return 0
    return Run.objects.filter(experiment=experiment, archived_at=experiment.archived_at).count()


def delete_experiment(experiment: Experiment) -> DeleteResult:
    """Delete an archived experiment with its runs and recurring runs. Raises
    ExperimentArchiveError for an experiment that is not archived, or when Argo refuses to
    delete a CronWorkflow (the recurring runs deleted before it stay deleted; nothing else is)."""
    if experiment.archived_at is None:
        raise ExperimentArchiveError(
            f"“{experiment.name}” is not archived: archive it first; only archived experiments "
            "can be deleted."
        )
    recurring_runs = list(RecurringRun.objects.filter(experiment=experiment))
    for recurring in recurring_runs:
        try:
            delete_recurring_run(recurring)
        except RecurringError as exc:
            raise ExperimentArchiveError(
                f"Could not delete the recurring run “{recurring.name}”: {exc}"
            ) from exc
    with transaction.atomic():
        locked = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if locked.archived_at is None:
            raise ExperimentArchiveError(f"“{locked.name}” was restored meanwhile: not deleted.")
        run_ids = list(Run.objects.filter(experiment=locked).values_list("pk", flat=True))
        files = delete_run_rows(run_ids)
        locked.delete()
    return DeleteResult(runs=len(run_ids), recurring_runs=len(recurring_runs), files=len(files))


def delete_counts(experiment: Experiment) -> dict[str, int]:
    """What a delete would remove, for the confirmation."""
    return {
        "runs": Run.objects.filter(experiment=experiment).count(),
        "recurring_runs": RecurringRun.objects.filter(experiment=experiment).count(),
    }
