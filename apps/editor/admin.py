from typing import Any

from django.contrib import admin

from apps.editor.models import Draft, DraftFile
from apps.editor.services import delete_draft
from apps.projects.admin_scope import ProjectScopedAdmin
from ydpipelines.admin_deletes import ServiceDeleteAdmin


class DraftFileInline(admin.TabularInline):
    model = DraftFile
    fields = ("path", "size", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Draft)
class DraftAdmin(ProjectScopedAdmin, ServiceDeleteAdmin):
    list_display = ("name", "owner", "pipeline", "revision", "updated_at")
    list_select_related = ("owner", "pipeline")
    search_fields = ("name",)
    readonly_fields = ("id", "revision", "base_version", "created_at", "updated_at")
    raw_id_fields = ("owner", "pipeline")
    inlines = [DraftFileInline]

    def delete_one(self, obj: Any) -> None:
        # The stored files go with the rows (a plain admin delete would leave them on disk).
        delete_draft(obj)
