from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from apps.notifications.forms import SubscriptionForm
from apps.notifications.models import Delivery, Subscription
from apps.projects import scope


class SubscriptionAdminForm(SubscriptionForm):
    """The page's checks (an address for the channel, https webhooks) plus the target."""

    class Meta(SubscriptionForm.Meta):
        fields = ["experiment", "recurring_run", *SubscriptionForm.Meta.fields, "enabled"]


def _of_projects(request: HttpRequest, queryset: QuerySet[Any], prefix: str) -> QuerySet[Any]:
    """A subscription is of an experiment or of a recurring run: either leads to the project."""
    ids = scope.project_ids(request)
    return queryset.filter(
        Q(**{f"{prefix}experiment__project__in": ids})
        | Q(**{f"{prefix}recurring_run__experiment__project__in": ids})
    )


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionAdminForm
    list_display = ["id", "channel", "email", "url", "experiment", "recurring_run", "enabled"]
    list_filter = ["channel", "enabled"]
    list_select_related = ["experiment", "recurring_run"]
    raw_id_fields = ["experiment", "recurring_run"]
    readonly_fields = ["secret", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return _of_projects(request, super().get_queryset(request), "")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "event", "run", "subscription", "status", "attempts", "delivered_at"]
    list_filter = ["status", "event"]
    list_select_related = ["run", "subscription"]
    raw_id_fields = ["subscription", "run"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return _of_projects(request, super().get_queryset(request), "subscription__")
