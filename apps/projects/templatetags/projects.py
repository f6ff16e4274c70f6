"""{% may "editor" project_id as can_edit %}: whether the caller holds a role in a project, so
that pages hide the buttons of actions the caller may not take (the views refuse them anyway)."""

from __future__ import annotations

from typing import Any

from django import template

from apps.projects import scope

register = template.Library()


@register.simple_tag(takes_context=True)
def may(context: Any, role: str, project_id: int | None = None) -> bool:
    """With no project: the switcher's current project."""
    request = context.get("request")
    if request is None:
        return False
    if project_id is None:
        current = scope.current_project(request)
        project_id = current.pk if current else None
    return scope.has_role(request, project_id, role)
