"""The Experiment admin lives here, not in apps.experiments: its delete is the archive's cascade
(runs and recurring runs with it)."""

from typing import Any

from django.contrib import admin

from apps.experiment_archive.services import ExperimentArchiveError, delete_experiment
from apps.experiments.models import Experiment
from apps.projects.admin_scope import ProjectScopedAdmin
from ydpipelines.admin_deletes import DeleteRefused, ServiceDeleteAdmin


@admin.register(Experiment)
class ExperimentAdmin(ProjectScopedAdmin, ServiceDeleteAdmin):
    list_display = ("name", "created_at", "archived_at", "created_by")
    list_filter = ("archived_at",)
    search_fields = ("name", "description")
    readonly_fields = ("created_at",)

    def delete_one(self, obj: Any) -> None:
        try:
            delete_experiment(obj)
        except ExperimentArchiveError as exc:
            raise DeleteRefused(str(exc)) from exc
