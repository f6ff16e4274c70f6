from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from apps.experiments.models import Experiment
from apps.notifications.constants import Channel, DeliveryStatus, Event
from apps.recurring.models import RecurringRun
from apps.runs.models import Run


def new_secret() -> str:
    return secrets.token_hex(32)


class Subscription(models.Model):
    """Who is told what about the runs of one experiment or one recurring run."""

    experiment = models.ForeignKey(
        Experiment, null=True, blank=True, on_delete=models.CASCADE, related_name="subscriptions"
    )
    recurring_run = models.ForeignKey(
        RecurringRun, null=True, blank=True, on_delete=models.CASCADE, related_name="subscriptions"
    )
    events = models.JSONField(default=list, help_text="A list of Event values.")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    email = models.EmailField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    secret = models.CharField(max_length=64, default=new_secret, editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                name="notifications_subscription_one_target",
                condition=(
                    Q(experiment__isnull=False, recurring_run__isnull=True)
                    | Q(experiment__isnull=True, recurring_run__isnull=False)
                ),
                violation_error_message="Choose exactly one: an experiment or a recurring run.",
            ),
            models.CheckConstraint(
                name="notifications_subscription_channel_address",
                condition=(
                    Q(channel=Channel.EMAIL, url="") & ~Q(email="")
                    | Q(channel=Channel.WEBHOOK, email="") & ~Q(url="")
                ),
                violation_error_message="An email needs an address; a webhook needs a URL.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.address}"

    @property
    def address(self) -> str:
        return self.email if self.channel == Channel.EMAIL else self.url

    def event_labels(self) -> list[str]:
        return [Event(e).label for e in self.events if e in Event.values]


class Delivery(models.Model):
    """One notification of one run's event to one subscription, and how sending it went."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The run that ended; none for a misfire (a scheduled run that could not be started).
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # The recurring run whose schedule misfired; none for a run's end.
    recurring = models.ForeignKey(
        RecurringRun, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    event = models.CharField(max_length=20, choices=Event.choices)
    # What makes the notification one of a kind: the run id, or a misfire's time and message.
    key = models.CharField(max_length=64)
    detail = models.TextField(blank=True, help_text="A misfire's message from Argo.")
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]
        constraints = [
            # The signal fires once per final transition; this makes a second one harmless.
            models.UniqueConstraint(
                fields=["subscription", "event", "key"], name="notifications_delivery_once"
            )
        ]
        indexes = [
            # The reconciler: WHERE status IN open AND next_attempt_at < stale.
            models.Index(
                fields=["next_attempt_at"],
                name="notifications_delivery_due",
                condition=Q(status__in=["pending", "retrying"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} ({self.key}) to {self.subscription}"
