"""Projects: the caller's, with its role in each (what a token reaches, capped by its role)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from apps.api.auth import READ
from apps.api.errors import ERRORS
from apps.api.schemas import ProjectOut
from apps.projects import scope as projects

router = Router(tags=["projects"], auth=READ)


@router.get("/projects", response={200: list[ProjectOut], **ERRORS})
def list_projects(request: HttpRequest) -> list[dict[str, Any]]:
    """The projects the caller reaches, by name; `slug` names one in `project` fields."""
    roles = projects.roles(request)
    return [
        {"id": p.pk, "name": p.name, "slug": p.slug, "role": roles[p.pk]}
        for p in projects.projects(request)
    ]
