"""The admin's changelists and change pages through the sharing rule: a staff user who is not
a superuser sees (and reaches by URL) only the objects of their projects."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from apps.projects import scope


class ProjectScopedAdmin:
    project_path = "project"  # from the admin's model to its Project

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope.visible(request, super().get_queryset(request), self.project_path)  # type: ignore[misc]
