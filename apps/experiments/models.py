from django.conf import settings
from django.db import models
from django.urls import reverse

from apps.projects.models import default_project


class Experiment(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.PROTECT,
        related_name="+",
        default=default_project,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["archived_at", "-created_at"], name="exp_archived_created")]
        constraints = [
            # Unique in its project only: a name taken elsewhere must not leak through a refusal.
            models.UniqueConstraint(fields=["project", "name"], name="experiment_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("experiments:detail", args=[self.pk])

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None
