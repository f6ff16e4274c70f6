"""The one home of the sharing rule: which projects a caller sees, with which role, and the
querysets narrowed to them. Every page, list, count, download, admin changelist and API call
starts from `visible` (or `in_current`, the switcher's project) and checks `require_role`
before a change.

Another project's object answers 404, never 403, so that its name does not leak; a member
whose role is too low gets a 403 that says which role the action needs. A token (apps.api)
narrows its user's projects to the one it is scoped to and caps the role (read: viewer,
write: the user's own)."""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import F, Model, QuerySet
from django.http import Http404, HttpRequest

from apps.projects.constants import RANK, Role
from apps.projects.models import Membership, Project

M = TypeVar("M", bound=Model)
SESSION_KEY = "ydp_project"


def _load(request: HttpRequest) -> dict[int, tuple[str, Project]]:
    """{project id: (the caller's role, the project)}: one query per request, cached on it."""
    cached = getattr(request, "_ydp_projects", None)
    if cached is not None:
        return cached
    user = getattr(request, "user", None)
    found: dict[int, tuple[str, Project]]
    if user is None or not user.is_authenticated or not user.is_active:
        found = {}
    elif user.is_superuser:
        found = {p.pk: (Role.OWNER.value, p) for p in Project.objects.all()}
    else:
        found = {
            m.project_id: (m.role, m.project)
            for m in Membership.objects.filter(user=user).select_related("project")
        }
    token = getattr(request, "api_token", None)
    if token is not None:
        if token.project_id is not None:
            found = {pk: held for pk, held in found.items() if pk == token.project_id}
        cap = token.role_cap
        found = {
            pk: (role if RANK[role] <= RANK[cap] else cap, project)
            for pk, (role, project) in found.items()
        }
    request._ydp_projects = found  # type: ignore[attr-defined]
    return found


def roles(request: HttpRequest) -> dict[int, str]:
    """{project id: the caller's role in it}."""
    return {pk: role for pk, (role, _) in _load(request).items()}


def projects(request: HttpRequest) -> list[Project]:
    """The caller's projects, by name."""
    return sorted((p for _, p in _load(request).values()), key=lambda p: (p.name, p.pk))


def project_ids(request: HttpRequest, role: str | None = None) -> list[int]:
    """The caller's projects; with `role`, those where the caller holds it."""
    held = roles(request)
    return sorted(pk for pk, r in held.items() if role is None or RANK[r] >= RANK[role])


def has_role(request: HttpRequest, project_id: int | None, role: str) -> bool:
    held = roles(request).get(project_id) if project_id is not None else None
    return held is not None and RANK[held] >= RANK[role]


def require_role(request: HttpRequest, project_id: int | None, role: str) -> None:
    """404 outside the caller's projects; 403 with the reason when the role is too low."""
    held = roles(request).get(project_id) if project_id is not None else None
    if held is None:
        raise Http404("No such object.")
    if RANK[held] < RANK[role]:
        raise PermissionDenied(
            f"This needs the {Role(role).label.split(':')[0].lower()} role in the project; "
            f"you are {with_article(held)}."
        )


def with_article(role: str) -> str:
    """ "a viewer", "an editor", "an owner"."""
    return ("an " if role[:1] in ("a", "e", "i", "o", "u") else "a ") + role


def visible(
    request: HttpRequest, queryset: QuerySet[M], path: str = "project", role: str | None = None
) -> QuerySet[M]:
    """`queryset` narrowed to the caller's projects (where the caller holds `role`, if given);
    `path` leads from its model to Project."""
    ids = project_ids(request, role)
    if not ids:
        return queryset.none()
    return queryset.filter(**{f"{path}__in": ids})


def projects_by_id(request: HttpRequest) -> dict[int, Project]:
    return {pk: project for pk, (_, project) in _load(request).items()}


def current_project(request: HttpRequest) -> Project | None:
    """The switcher's project (kept in the session), else the caller's first project."""
    found = _load(request)
    session = getattr(request, "session", None)
    wanted = session.get(SESSION_KEY) if session is not None else None
    if wanted in found:
        return found[wanted][1]
    mine = projects(request)
    return mine[0] if mine else None


def set_current_project(request: HttpRequest, project_id: int) -> Project:
    if project_id not in _load(request):
        raise Http404("No such project.")
    request.session[SESSION_KEY] = project_id
    return _load(request)[project_id][1]


def follow(request: HttpRequest, project_id: int | None) -> None:
    """An object's page makes its project the current one (the switcher shows where one is,
    and "Upload version", "Create run" and the lists go on in that project). Written only
    when it changes: most pages are of the current project and write nothing."""
    session = getattr(request, "session", None)
    if session is None or project_id is None or project_id not in _load(request):
        return
    current = current_project(request)
    if current is None or current.pk != project_id:
        session[SESSION_KEY] = project_id


def in_current(request: HttpRequest, queryset: QuerySet[M], path: str = "project") -> QuerySet[M]:
    """`queryset` narrowed to the switcher's project: what the list pages show."""
    project = current_project(request)
    if project is None:
        return queryset.none()
    return queryset.filter(**{path: project.pk})


def get_visible(
    request: HttpRequest,
    queryset: QuerySet[M],
    path: str = "project",
    *,
    role: str | None = None,
    **lookup: Any,
) -> M:
    """The object of `lookup` among the caller's projects, or 404; with `role`, a 403 unless
    the caller holds that role in the object's project. The object's project id is on it as
    `scope_project_id`."""
    found = (
        visible(request, queryset, path).annotate(scope_project_id=F(path)).filter(**lookup).first()
    )
    if found is None:
        raise Http404("No such object.")
    if role is not None:
        require_role(request, found.scope_project_id, role)  # type: ignore[attr-defined]
    return found
