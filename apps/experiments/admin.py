from django.contrib import admin

from apps.experiments.models import Experiment


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at", "archived_at", "created_by")
    list_filter = ("archived_at",)
    search_fields = ("name", "description")
    readonly_fields = ("created_at",)
