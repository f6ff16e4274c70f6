"""Starting a project from the top bar: its creator owns it, it becomes the current project,
and a name is unique (the message says so; nothing is stored)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.pipelines.models import Pipeline
from apps.projects.models import Membership, Project
from apps.projects.scope import SESSION_KEY

pytestmark = pytest.mark.django_db


def test_a_user_starts_a_project_owns_it_and_lands_in_it(auth_client, user):
    response = auth_client.post(
        reverse("projects:create"), {"name": "  Churn   team ", "description": "models"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("pipelines:list")
    project = Project.objects.get(name="Churn team")
    assert project.slug == "churn-team" and project.description == "models"
    assert Membership.objects.get(project=project, user=user).role == "owner"
    assert auth_client.session[SESSION_KEY] == project.pk
    # The lists now show the new, empty project, not the Default one the user is also in.
    Pipeline.objects.create(name="in-default")
    page = auth_client.get(reverse("pipelines:list")).content.decode()
    assert "in-default" not in page and "Churn team" in page


def test_a_taken_name_is_refused_on_the_form_and_nothing_is_stored(auth_client, user):
    Project.objects.create(name="Vision", slug="vision")
    before = Project.objects.count()
    response = auth_client.post(reverse("projects:create"), {"name": "Vision"})
    assert response.status_code == 200
    assert "A project of that name exists already" in response.content.decode()
    assert Project.objects.count() == before
    empty = auth_client.post(reverse("projects:create"), {"name": "   "})
    assert "Give the project a name." in empty.content.decode()
    assert Project.objects.count() == before


def test_slugs_stay_unique_when_names_slugify_alike(auth_client):
    auth_client.post(reverse("projects:create"), {"name": "Team A"})
    auth_client.post(reverse("projects:create"), {"name": "team-a"})
    assert sorted(
        Project.objects.filter(slug__startswith="team-a").values_list("slug", flat=True)
    ) == [
        "team-a",
        "team-a-2",
    ]


def test_a_user_in_no_project_is_offered_to_start_one(client, django_user_model):
    lone = django_user_model.objects.create_user("lone", password="pw-123456")
    Membership.objects.filter(user=lone).delete()
    client.force_login(lone)
    page = client.get(reverse("pipelines:list")).content.decode()
    assert reverse("projects:create") in page and "New project" in page


def test_signing_in_is_needed(client):
    response = client.get(reverse("projects:create"))
    assert response.status_code == 302 and "login" in response["Location"]
