from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from apps.projects import scope


def projects(request: HttpRequest) -> dict[str, Any]:
    """The top bar's switcher: lazy, so a page that does not draw it runs no query."""
    return {
        "current_project": SimpleLazyObject(lambda: scope.current_project(request)),
        "my_projects": SimpleLazyObject(lambda: scope.projects(request)),
    }
