from typing import Any

from django.contrib import admin
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils.html import format_html

from apps.pipelines.models import Pipeline, PipelineVersion
from apps.pipelines.services import delete_pipeline, delete_versions
from apps.projects.admin_scope import ProjectScopedAdmin
from ydpipelines.admin_deletes import DeleteRefused, ServiceDeleteAdmin


class PipelineVersionInline(admin.TabularInline):
    model = PipelineVersion
    fields = ("name", "source_format", "node_count", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _in_use(exc: ProtectedError) -> DeleteRefused:
    return DeleteRefused(f"runs or recurring runs still use it ({len(exc.protected_objects)}).")


@admin.register(Pipeline)
class PipelineAdmin(ProjectScopedAdmin, ServiceDeleteAdmin):
    list_display = ("name", "created_at", "created_by")
    search_fields = ("name", "description")
    readonly_fields = ("created_at",)
    inlines = [PipelineVersionInline]

    def delete_one(self, obj: Any) -> None:
        try:
            delete_pipeline(obj)
        except ProtectedError as exc:
            raise _in_use(exc) from exc


@admin.register(PipelineVersion)
class PipelineVersionAdmin(ProjectScopedAdmin, ServiceDeleteAdmin):
    project_path = "pipeline__project"

    """Versions are immutable: created by upload, never edited here."""

    list_display = ("name", "pipeline", "source_format", "node_count", "created_at")
    list_filter = ("source_format", "created_at")
    search_fields = ("name", "pipeline__name", "content_hash")
    list_select_related = ("pipeline",)
    # The bundle's storage URL (/media/...) is never served: link to the download view.
    exclude = ("bundle",)
    readonly_fields = ("bundle_download",)

    @admin.display(description="Bundle")
    def bundle_download(self, obj: PipelineVersion) -> str:
        if not obj.pk or not obj.bundle:
            return "—"
        url = reverse("pipelines:version_bundle", args=[obj.pipeline_id, obj.pk])
        return format_html('<a href="{}">bundle.zip</a>', url)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_one(self, obj: Any) -> None:
        try:
            delete_versions(PipelineVersion.objects.filter(pk=obj.pk))
        except ProtectedError as exc:
            raise _in_use(exc) from exc
