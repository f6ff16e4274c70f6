"""Archiving and restoring experiments: the experiment and its runs move together."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from apps.experiments.models import Experiment
from apps.runs.models import Run


@dataclass(frozen=True)
class ArchiveResult:
    runs: int


def archive_experiment(experiment: Experiment) -> ArchiveResult:
    """Archive the experiment and every run of it not archived yet, with one timestamp, so that
    a restore can bring back exactly the runs that went with it."""
    now = timezone.now()
    with transaction.atomic():
        updated = Experiment.objects.filter(pk=experiment.pk, archived_at__isnull=True).update(
            archived_at=now
        )
        if not updated:
            return ArchiveResult(runs=0)
        runs = Run.objects.filter(experiment=experiment, archived_at__isnull=True).update(
            archived_at=now
        )
    experiment.archived_at = now
    return ArchiveResult(runs=runs)


def restore_experiment(experiment: Experiment) -> ArchiveResult:
    """Bring the experiment back with the runs archived along with it; runs archived on their
    own before (another timestamp) stay archived."""
    with transaction.atomic():
        locked = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if locked.archived_at is None:
            return ArchiveResult(runs=0)
        runs = Run.objects.filter(experiment=locked, archived_at=locked.archived_at).update(
            archived_at=None
        )
        locked.archived_at = None
        locked.save(update_fields=["archived_at"])
    experiment.archived_at = None
    return ArchiveResult(runs=runs)


def runs_to_restore(experiment: Experiment) -> int:
    if experiment.archived_at is None:
        return 0
    return Run.objects.filter(experiment=experiment, archived_at=experiment.archived_at).count()
