"""Making projects and changing their members; the owners' rule (a project keeps at least one)
lives here."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from apps.projects.constants import Role
from apps.projects.models import Membership, Project


class MembershipError(ValueError):
    pass


@transaction.atomic
def create_project(owner: Any, name: str, description: str = "") -> Project:
    """A new project with `owner` as its first owner. Its slug (the API's name for it) is
    the name's, made unique with a number."""
    base = slugify(name)[:90] or "project"
    slug, n = base, 1
    while Project.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    project = Project.objects.create(name=name, slug=slug, description=description)
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    return project


def add_member(project: Project, username: str, role: str) -> Membership:
    user = get_user_model().objects.filter(username=username.strip(), is_active=True).first()
    if user is None:
        raise MembershipError(f"There is no active user “{username.strip()}”.")
    membership, created = Membership.objects.get_or_create(
        project=project, user=user, defaults={"role": role}
    )
    if not created:
        raise MembershipError(f"{user.get_username()} is a member already: change the role below.")
    return membership


@transaction.atomic
def change_role(membership: Membership, role: str) -> None:
    _keep_an_owner(membership, leaving=role != Role.OWNER)
    membership.role = role
    membership.save(update_fields=["role"])


@transaction.atomic
def remove_member(membership: Membership) -> None:
    _keep_an_owner(membership, leaving=True)
    membership.delete()


def _keep_an_owner(membership: Membership, *, leaving: bool) -> None:
    if not leaving or membership.role != Role.OWNER:
        return
    # Lock the project's owner rows: two owners demoting each other at once must not both win.
    owners: Any = (
        Membership.objects.select_for_update()
        .filter(project_id=membership.project_id, role=Role.OWNER)
        .values_list("pk", flat=True)
    )
    if list(owners) == [membership.pk]:
        raise MembershipError("A project keeps at least one owner: make someone else owner first.")
