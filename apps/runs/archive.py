"""Archiving, restoring and deleting runs, one or many at a time.

Rules: an active run (Pending, Running) is not archived: it must be terminated or end first. A run
of an archived experiment is not restored on its own: the experiment is restored with it. Only an
archived run is deleted; deleting removes its steps, metrics and artifacts and, once the deletion
has committed, the artifacts' files from storage (a rollback keeps them).

Each function takes the selected ids and returns an Outcome: the runs it acted on and, for each
one it left alone, the reason, so that a bulk action reports every run."""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.runs.constants import RUN_ACTIVE_STATES
from apps.runs.models import Artifact, Run
from apps.runs.selection import parse_run_ids

logger = logging.getLogger(__name__)

MAX_SELECTION = 500  # runs one bulk action takes


class SelectionError(ValueError):
    """The selected ids cannot be read; the message says which one and why."""


@dataclass
class Outcome:
    done: list[Run] = field(default_factory=list)
    skipped: list[tuple[Run, str]] = field(default_factory=list)
    missing: int = 0  # selected ids that match no run (deleted meanwhile)
    files_removed: int = 0
    bytes_removed: int = 0


def parse_ids(values: Iterable[str]) -> list[uuid.UUID]:
    """Run ids from form values, each a uuid or several joined by commas; in order, no repeats.
    Raises SelectionError naming the bad value."""
    try:
        ids = parse_run_ids(values)
    except ValueError as exc:
        raise SelectionError(str(exc)) from None
    if len(ids) > MAX_SELECTION:
        raise SelectionError(f"Select at most {MAX_SELECTION} runs at a time ({len(ids)} given).")
    return ids


def selected_runs(ids: list[uuid.UUID]) -> QuerySet[Run]:
    """The runs behind the ids with what the pages and messages show: one query."""
    return (
        Run.objects.filter(pk__in=ids)
        .select_related("experiment", "pipeline_version__pipeline")
        .only(
            "id",
            "name",
            "state",
            "archived_at",
            "created_at",
            "experiment__id",
            "experiment__name",
            "experiment__archived_at",
            "pipeline_version__id",
            "pipeline_version__name",
            "pipeline_version__pipeline__id",
            "pipeline_version__pipeline__name",
        )
    )


def _locked(ids: list[uuid.UUID]) -> list[Run]:
    """The selected runs in the order given, locked until the transaction ends."""
    rows = {run.pk: run for run in selected_runs(ids).select_for_update(of=("self",))}
    return [rows[run_id] for run_id in ids if run_id in rows]


ARCHIVE, RESTORE, DELETE = "archive", "restore", "delete"
ACTIONS = (ARCHIVE, RESTORE, DELETE)


def refusal(action: str, run: Run) -> str | None:
    """Why `action` cannot be done to the run (to follow its name in a sentence), or None."""
    if action == ARCHIVE:
        if run.archived_at is not None:
            return "is archived already"
        if run.state in RUN_ACTIVE_STATES:
            return f"is {run.state.lower()}: terminate it (or let it end) first"
    elif action == RESTORE:
        if run.archived_at is None:
            return "is not archived"
        if run.experiment.archived_at is not None:
            return (
                f"belongs to the archived experiment “{run.experiment.name}”: restore the "
                "experiment to bring it back"
            )
    elif action == DELETE:
        if run.archived_at is None:
            return "is not archived: archive it first; only archived runs can be deleted"
    else:
        raise ValueError(f"unknown action {action!r}")
    return None


def _sort(action: str, ids: list[uuid.UUID]) -> tuple[Outcome, list[Run]]:
    runs = _locked(ids)
    outcome = Outcome(missing=len(ids) - len(runs))
    for run in runs:
        reason = refusal(action, run)
        if reason is None:
            outcome.done.append(run)
        else:
            outcome.skipped.append((run, reason))
    return outcome, runs


def archive_runs(ids: list[uuid.UUID]) -> Outcome:
    """Archive the selected runs that are neither archived nor active."""
    now = timezone.now()
    with transaction.atomic():
        outcome, _ = _sort(ARCHIVE, ids)
        Run.objects.filter(pk__in=[run.pk for run in outcome.done]).update(archived_at=now)
    for run in outcome.done:
        run.archived_at = now
    return outcome


def restore_runs(ids: list[uuid.UUID]) -> Outcome:
    """Restore the selected archived runs whose experiment is not archived."""
    with transaction.atomic():
        outcome, _ = _sort(RESTORE, ids)
        Run.objects.filter(pk__in=[run.pk for run in outcome.done]).update(archived_at=None)
    for run in outcome.done:
        run.archived_at = None
    return outcome


def delete_runs(ids: list[uuid.UUID]) -> Outcome:
    """Delete the archived runs among the ids, and their artifacts' files once committed."""
    with transaction.atomic():
        outcome, _ = _sort(DELETE, ids)
        files = delete_run_rows([run.pk for run in outcome.done])
    outcome.files_removed = len(files)
    outcome.bytes_removed = sum(size for _, _, size in files)
    return outcome


SERVICES = {ARCHIVE: archive_runs, RESTORE: restore_runs, DELETE: delete_runs}


def delete_run_rows(run_ids: list[Any]) -> list[tuple[Storage, str, int]]:
    """Delete the runs (steps, metrics and artifacts go with them) inside the caller's
    transaction, and arrange for their files to leave storage once it commits. Returns the
    files, as (storage, name, size)."""
    if not run_ids:
        return []
    storage = Artifact._meta.get_field("file").storage
    files = [
        (storage, name, size)
        for name, size in Artifact.objects.filter(run_id__in=run_ids)
        .exclude(file="")
        .values_list("file", "size")
    ]
    Run.objects.filter(pk__in=run_ids).delete()
    folders = [f"artifacts/{run_id}" for run_id in run_ids]
    transaction.on_commit(lambda: remove_files(files, storage, folders))
    return files


def remove_files(
    files: list[tuple[Storage, str, int]], storage: Storage, folders: list[str]
) -> None:
    """Remove the files, then the runs' emptied folders (local storage only). A file that will
    not go is logged: the rows are gone already, and a stray file harms nobody."""
    for file_storage, name, _size in files:
        try:
            file_storage.delete(name)
        except OSError:
            logger.exception("could not remove artifact file %s", name)
    for folder in folders:
        try:
            path = storage.path(folder)
        except NotImplementedError:  # remote storage has no folders
            return
        _remove_empty_tree(path)


def _remove_empty_tree(path: str) -> None:
    if not os.path.isdir(path):
        return
    for root, dirs, _files in os.walk(path, topdown=False):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(root, name))
    with contextlib.suppress(OSError):  # not empty: something else lives there
        os.rmdir(path)
