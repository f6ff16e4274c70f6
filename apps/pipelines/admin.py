from django.contrib import admin

from apps.pipelines.models import Pipeline, PipelineVersion


class PipelineVersionInline(admin.TabularInline):
    model = PipelineVersion
    fields = ("name", "source_format", "node_count", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at", "created_by")
    search_fields = ("name", "description")
    readonly_fields = ("created_at",)
    inlines = [PipelineVersionInline]


@admin.register(PipelineVersion)
class PipelineVersionAdmin(admin.ModelAdmin):
    """Versions are immutable: created by upload, never edited here."""

    list_display = ("name", "pipeline", "source_format", "node_count", "created_at")
    list_filter = ("source_format", "created_at")
    search_fields = ("name", "pipeline__name", "content_hash")
    list_select_related = ("pipeline",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
