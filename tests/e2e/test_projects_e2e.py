"""The project switcher and the members page in a real Chromium: choosing a project in the top
bar reloads the page with that project's objects (the select submits its form), and an owner
adds a member and changes a role. Screenshots at 1440x900 land in screenshots/."""

from __future__ import annotations

import re

import pytest

from apps.pipelines.models import Pipeline
from apps.projects.models import Membership, Project

pytestmark = pytest.mark.e2e
expect = pytest.importorskip("playwright.sync_api").expect

PASSWORD = "pw-projects-42"


def test_switch_project_and_manage_members(page, live_server, django_user_model, shot):
    owner = django_user_model.objects.create_user("olivia", "o@example.com", PASSWORD)
    marc_user = django_user_model.objects.create_user("marc", "m@example.com", PASSWORD)
    # conftest makes every new user an owner of the Default project: not here.
    Membership.objects.filter(user__in=[owner, marc_user]).delete()
    vision = Project.objects.create(name="Vision", slug="vision")
    nlp = Project.objects.create(name="NLP research", slug="nlp")
    Membership.objects.create(project=vision, user=owner, role="owner")
    Membership.objects.create(project=nlp, user=owner, role="editor")
    Pipeline.objects.create(name="segmentation", project=vision)
    Pipeline.objects.create(name="sentiment", project=nlp)

    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(live_server.url + "/")
    page.fill("#id_username", "olivia")
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/pipelines/$"))
    # The first project by name is the current one at first.
    expect(page.locator("#project-switch")).to_have_value(str(nlp.pk))
    expect(page.get_by_role("link", name="sentiment")).to_be_visible()
    expect(page.get_by_role("link", name="segmentation")).to_have_count(0)
    shot(page, "projects-switcher-nlp")

    page.select_option("#project-switch", str(vision.pk))
    page.wait_for_load_state("load")
    expect(page.get_by_role("link", name="segmentation")).to_be_visible()
    expect(page.get_by_role("link", name="sentiment")).to_have_count(0)
    shot(page, "projects-switcher-vision")

    page.get_by_role("link", name="Members").click()
    page.wait_for_url(re.compile(rf"/projects/{vision.pk}/members/$"))
    page.fill("#id_username", "marc")
    page.select_option("#id_role", "viewer")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_text("marc is now a viewer.")).to_be_visible()
    marc = Membership.objects.get(project=vision, user__username="marc")
    page.select_option(f"#role-{marc.pk}", "editor")
    page.locator(f"#role-{marc.pk}").locator("xpath=..").get_by_role("button", name="Save").click()
    expect(page.get_by_text("marc is now an editor.")).to_be_visible()
    shot(page, "projects-members")
    assert Membership.objects.get(pk=marc.pk).role == "editor"

    # Marc, made a viewer again, sees the pipelines without the buttons to change them, and
    # the upload page (from a bookmark) tells him which role it needs.
    Membership.objects.filter(pk=marc.pk).update(role="viewer")
    page.context.clear_cookies()
    page.goto(live_server.url + "/")
    page.fill("#id_username", "marc")
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/pipelines/$"))
    expect(page.get_by_role("link", name="segmentation")).to_be_visible()
    expect(page.get_by_role("link", name="Upload pipeline")).to_have_count(0)
    shot(page, "projects-viewer-pipelines")
    page.goto(live_server.url + "/pipelines/upload/")
    expect(
        page.get_by_text("This needs the editor role in the project; you are a viewer.")
    ).to_be_visible()
    shot(page, "projects-viewer-refused")
