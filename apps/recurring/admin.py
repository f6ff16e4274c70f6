from typing import Any

from django.contrib import admin

from apps.projects.admin_scope import ProjectScopedAdmin
from apps.recurring.models import RecurringRun
from apps.recurring.services import SETTINGS_FIELDS as SETTINGS
from apps.recurring.services import RecurringError, delete_recurring_run
from ydpipelines.admin_deletes import DeleteRefused, ServiceDeleteAdmin


@admin.register(RecurringRun)
class RecurringRunAdmin(ProjectScopedAdmin, ServiceDeleteAdmin):
    project_path = "experiment__project"

    list_display = ("name", "experiment", "trigger_type", "cron", "enabled", "max_concurrency")
    list_filter = ("enabled", "trigger_type")
    search_fields = ("name", "description", "cron_workflow_name")
    list_select_related = ("experiment",)
    raw_id_fields = ("experiment", "pipeline", "pipeline_version")
    readonly_fields = ("id", "cron_workflow_name", "created_at", "updated_at", "last_synced_at")
    # What a user sets (apps.recurring.services.SETTINGS_FIELDS), then the bookkeeping (Argo's
    # names, the sync, who and when).
    fieldsets = (
        (None, {"fields": SETTINGS}),
        (
            "Argo and bookkeeping",
            {"fields": [f.name for f in RecurringRun._meta.fields if f.name not in SETTINGS]},
        ),
    )

    def delete_one(self, obj: Any) -> None:
        try:
            delete_recurring_run(obj)  # its CronWorkflow too, or nothing when Argo is away
        except RecurringError as exc:
            raise DeleteRefused(str(exc)) from exc
