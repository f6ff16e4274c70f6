from typing import Any

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from apps.projects.admin_scope import ProjectScopedAdmin
from apps.runs.archive import delete_runs
from apps.runs.models import Artifact, Metric, Run, Step
from ydpipelines.admin_deletes import DeleteRefused, ServiceDeleteAdmin


class StepInline(admin.TabularInline):
    model = Step
    fields = ("display_name", "phase", "started_at", "finished_at", "exit_code")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


class MetricInline(admin.TabularInline):
    model = Metric
    fields = ("name", "value", "format", "step")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Run)
class RunAdmin(ProjectScopedAdmin, ServiceDeleteAdmin):
    project_path = "experiment__project"

    list_display = ("name", "state", "experiment", "pipeline_version", "created_at", "finished_at")
    list_filter = ("state", "created_at", "archived_at")
    search_fields = ("name", "description", "id", "workflow_name")
    list_select_related = ("experiment", "pipeline_version__pipeline")
    raw_id_fields = ("experiment", "pipeline_version", "recurring_run", "cloned_from")
    readonly_fields = ("id", "workflow_name", "workflow_uid", "created_at", "last_synced_at")
    inlines = [StepInline, MetricInline]

    def get_readonly_fields(self, request: Any, obj: Any = None) -> tuple[str, ...]:
        # A run keeps its experiment: the catalogues' kept counts are keyed by it
        # (apps/runs/state_counts.py), and its steps' history belongs to that experiment.
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if obj is None else (*fields, "experiment")

    def delete_one(self, obj: Any) -> None:
        refusals = self.delete_many([obj])
        if refusals:
            raise DeleteRefused(refusals[0])

    def delete_many(self, objs: list[Any]) -> list[str]:
        # The page's bulk delete: archived runs only, artifact files removed on commit.
        outcome = delete_runs([run.pk for run in objs])
        return [f"“{run.name}” {reason}." for run, reason in outcome.skipped]


@admin.register(Step)
class StepAdmin(ProjectScopedAdmin, admin.ModelAdmin):
    project_path = "run__experiment__project"

    list_display = ("display_name", "run", "phase", "node_type", "started_at", "finished_at")
    list_filter = ("phase", "node_type")
    search_fields = ("display_name", "node_id", "run__name")
    list_select_related = ("run",)
    raw_id_fields = ("run",)
    readonly_fields = ("node_id", "name")


@admin.register(Artifact)
class ArtifactAdmin(ProjectScopedAdmin, admin.ModelAdmin):
    project_path = "run__experiment__project"

    list_display = ("name", "kind", "run", "step", "size", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "run__name")
    list_select_related = ("run", "step")
    raw_id_fields = ("run", "step")
    # The file's storage URL (/media/...) is never served: link to the sandboxed download.
    exclude = ("file",)
    readonly_fields = ("stored_file",)

    @admin.display(description="File")
    def stored_file(self, obj: Artifact) -> str:
        if not obj.pk or not obj.file:
            return "—"
        url = reverse("runs:artifact_download", args=[obj.run_id, obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.file.name.rsplit("/", 1)[-1])


@admin.register(Metric)
class MetricAdmin(ProjectScopedAdmin, admin.ModelAdmin):
    project_path = "run__experiment__project"

    list_display = ("name", "value", "format", "run", "step")
    list_filter = ("format",)
    search_fields = ("name", "run__name")
    list_select_related = ("run", "step")
    raw_id_fields = ("run", "step")
