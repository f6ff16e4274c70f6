"""The Notifications section in a real Chromium: loaded into the experiment page by htmx, a
webhook added and removed without a page load, the form's error shown in place."""

from __future__ import annotations

import re

import pytest

from apps.notifications.models import Subscription
from tests.experiments.builders import make_experiment

pytestmark = pytest.mark.e2e
expect = pytest.importorskip("playwright.sync_api").expect
PASSWORD = "pw-notify-user-42"


def test_add_and_remove_a_webhook_on_the_experiment_page(
    page, live_server, django_user_model, shot
):
    django_user_model.objects.create_user("notify", "n@example.com", PASSWORD)
    experiment = make_experiment()
    page.goto(live_server.url + experiment.get_absolute_url())
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", "notify")
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(re.escape(experiment.get_absolute_url()) + "$"))

    section = page.locator("#notifications")
    expect(section.get_by_text("Nobody is notified yet.")).to_be_visible()
    section.get_by_label("Channel").select_option("webhook")
    section.get_by_label("Webhook URL").fill("http://hooks.example/ydp")
    section.get_by_role("button", name="Add notification").click()
    expect(section.get_by_text("must start with https://")).to_be_visible()
    section.get_by_label("Webhook URL").fill("https://hooks.example/ydp")
    section.get_by_role("button", name="Add notification").click()
    expect(section.locator("code", has_text="https://hooks.example/ydp")).to_be_visible()
    sub = Subscription.objects.get()
    section.get_by_text("Signing secret").click()
    expect(section.get_by_text(sub.secret)).to_be_visible()
    shot(page, "notifications-section", full_page=True)
    section.get_by_role("button", name="Remove").click()
    expect(section.get_by_text("Nobody is notified yet.")).to_be_visible()
    assert not Subscription.objects.exists()
    assert page.url.endswith(experiment.get_absolute_url())  # no page load
    assert page.js_errors == []
