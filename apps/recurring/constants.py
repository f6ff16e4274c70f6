from django.db import models


class TriggerType(models.TextChoices):
    CRON = "cron", "Cron expression"
    PERIODIC = "periodic", "Every N minutes/hours/days/weeks"
