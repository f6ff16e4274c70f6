"""Projects, the unit of sharing: pipelines, experiments (with their runs and recurring runs)
and editor drafts belong to one project, and a user sees a project's objects by being one of
its members (superusers see every project). The rule lives in apps/projects/scope.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.projects.constants import DEFAULT_SLUG, Role


class Project(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships"
    )
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


def default_project() -> int:
    """The id of the "Default" project: where objects go that were made without naming one
    (existing rows at migration time, management commands, the test suite's builders)."""
    project, _ = Project.objects.get_or_create(slug=DEFAULT_SLUG, defaults={"name": "Default"})
    return project.pk
