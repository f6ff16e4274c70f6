from django.db import models

from apps.runs.constants import RunState


class Event(models.TextChoices):
    RUN_SUCCEEDED = "run_succeeded", "Run succeeded"
    RUN_FAILED = "run_failed", "Run failed"
    SCHEDULE_MISFIRED = "schedule_misfired", "Schedule misfired"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


# A delivery still to be attempted.
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
# The run states each event stands for: Error and Terminated are failures to the people told.
EVENT_OF_STATE = {
    RunState.SUCCEEDED: Event.RUN_SUCCEEDED,
    RunState.FAILED: Event.RUN_FAILED,
    RunState.ERROR: Event.RUN_FAILED,
    RunState.TERMINATED: Event.RUN_FAILED,
}
SIGNATURE_HEADER = "X-YDP-Signature"
TIMESTAMP_HEADER = "X-YDP-Timestamp"
