"""The top bar's project switcher, a new project, and a project's members page (owners only)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from apps.projects import scope
from apps.projects.constants import Role
from apps.projects.forms import AddMemberForm, ProjectForm, RoleForm
from apps.projects.models import Membership
from apps.projects.services import (
    MembershipError,
    add_member,
    change_role,
    create_project,
    remove_member,
)
from ydpipelines.htmx import HtmxHttpRequest


@require_POST
def switch(request: HtmxHttpRequest) -> HttpResponse:
    """Make a project the current one; back to the page asked for (a list shows the new
    project's objects), else the pipelines list."""
    try:
        project_id = int(request.POST.get("project", ""))
    except ValueError:
        project_id = 0
    scope.set_current_project(request, project_id)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = ""
    return redirect(_list_of(target) or "pipelines:list")


@require_http_methods(["GET", "POST"])
def project_create(request: HtmxHttpRequest) -> HttpResponse:
    """Any signed-in user may start a project (and owns it): a team needs no administrator to
    begin sharing. The new project becomes the current one."""
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = create_project(
            request.user, form.cleaned_data["name"], form.cleaned_data["description"]
        )
        request.session[scope.SESSION_KEY] = project.pk
        messages.success(request, f"Created the project “{project.name}”; you are its owner.")
        return redirect("pipelines:list")
    return render(request, "projects/project_form.html", {"form": form})


def _list_of(path: str) -> str:
    """The page to land on after a switch: `path` itself if it is a list, else its section's
    list (an object's page belongs to the project just left, and would switch back)."""
    try:
        match = resolve(urlsplit(path).path)
    except Resolver404:
        return ""
    if not match.kwargs:
        return path
    try:
        return reverse(f"{match.namespace}:list")
    except NoReverseMatch:
        return ""


@require_http_methods(["GET", "POST"])
def members(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    """GET: who is in the project (any member may look). POST: add someone (owners only)."""
    scope.require_role(request, project_id, Role.VIEWER)
    project = scope.projects_by_id(request)[project_id]
    form = AddMemberForm()
    if request.method == "POST":
        scope.require_role(request, project_id, Role.OWNER)
        form = AddMemberForm(request.POST)
        if form.is_valid():
            try:
                added = add_member(
                    project, form.cleaned_data["username"], form.cleaned_data["role"]
                )
            except MembershipError as exc:
                form.add_error("username", str(exc))
            else:
                who, role = added.user.get_username(), scope.with_article(added.role)
                messages.success(request, f"{who} is now {role}.")
                return redirect("projects:members", project_id)
    rows = Membership.objects.filter(project=project).select_related("user")
    return render(
        request,
        "projects/members.html",
        {
            "project": project,
            "memberships": rows,
            "form": form,
            "roles": Role.choices,
            "is_owner": scope.has_role(request, project_id, Role.OWNER),
        },
    )


@require_POST
def member_change(request: HtmxHttpRequest, project_id: int, membership_id: int) -> HttpResponse:
    """Change a member's role, or remove them (`remove` in the form)."""
    scope.require_role(request, project_id, Role.OWNER)
    membership = Membership.objects.filter(pk=membership_id, project_id=project_id).first()
    if membership is None:
        return redirect("projects:members", project_id)
    try:
        if "remove" in request.POST:
            remove_member(membership)
            messages.success(request, f"{membership.user.get_username()} left the project.")
        else:
            form = RoleForm(request.POST)
            if form.is_valid():
                change_role(membership, form.cleaned_data["role"])
                who, role = membership.user.get_username(), scope.with_article(membership.role)
                messages.success(request, f"{who} is now {role}.")
    except MembershipError as exc:
        messages.error(request, str(exc))
    return redirect("projects:members", project_id)
