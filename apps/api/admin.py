from django.contrib import admin

from apps.api.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "role", "created_at", "expires_at", "revoked_at",
                    "last_used_at")  # fmt: skip
    list_filter = ("role", "revoked_at")
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    # The secret is a hash: nothing to edit there; new tokens come from the settings page.
    readonly_fields = ("prefix", "secret_hash", "created_at", "last_used_at")

    def has_add_permission(self, request) -> bool:
        return False
