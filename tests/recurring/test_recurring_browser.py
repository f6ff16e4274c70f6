"""A new user schedules a pipeline in Chromium: the live preview of a bad cron, the refusal on
submit, an every-minute schedule with max 1 concurrent run, a run appearing, then disabling it.
Screenshots go to screenshots/ (recurring-*.png)."""

from __future__ import annotations

import re

import pytest

from apps.experiments.models import Experiment
from apps.recurring.models import RecurringRun
from apps.recurring.services import create_recurring_run
from tests.recurring.fixtures import hello_version, schedule_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
# Locator assertions, not wait_for_function: its string predicates need eval, which the CSP refuses.
expect = pytest.importorskip("playwright.sync_api").expect
PASSWORD = "pw-erin-123"


def test_schedule_a_pipeline_in_the_browser(page, live_server, argo, shot, django_user_model):
    django_user_model.objects.create_user("erin", "erin@example.com", PASSWORD)
    version = hello_version(pipeline_name="hello pipeline")
    Experiment.objects.create(name="nightly checks")
    other = Experiment.objects.create(name="weekday reports")
    create_recurring_run(
        schedule_settings(
            version,
            other,
            name="weekday report",
            cron="30 9 * * 1-5",
            timezone="Europe/Paris",
            max_concurrency=3,
            pipeline_version=None,
        )
    )

    page.goto(live_server.url + "/runs/recurring/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", "erin")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/runs/recurring/$"))

    page.click("text=Create recurring run")
    page.wait_for_url(re.compile(r"/runs/recurring/new/$"))
    page.select_option("#id_pipeline", label="hello pipeline")
    page.wait_for_selector("#id_version")
    page.wait_for_selector("#id_param_greeting")
    page.select_option("#id_version", value=str(version.pk))
    page.wait_for_selector("#id_param_greeting")
    page.fill("#id_name", "every minute hello")
    page.select_option("#id_experiment", label="nightly checks")
    page.fill("#id_param_greeting", "salut")

    # A cron typo: the preview says which field, live.
    page.check("input[name=trigger_type][value=cron]")
    page.fill("#id_cron", "61 * * * *")
    expect(page.locator("#trigger-preview.is-error")).to_contain_text("minute field")
    page.click("form.rr-form .form-actions .btn-primary")
    page.wait_for_selector(".alert-error")
    assert "The minute field" in page.inner_text(".has-error")
    assert RecurringRun.objects.filter(name="every minute hello").count() == 0
    shot(page, "recurring-form-error", full_page=True)

    # Every minute, max 1 concurrent run.
    page.check("input[name=trigger_type][value=periodic]")
    page.fill("#id_every", "1")
    page.select_option("#id_every_unit", "minutes")
    expect(page.locator("#trigger-preview")).to_contain_text("Every minute")
    assert page.locator("#trigger-preview li").count() == 5
    page.fill("#id_max_concurrency", "1")
    shot(page, "recurring-form", full_page=True)
    page.click("form.rr-form .form-actions .btn-primary")
    page.wait_for_url(re.compile(r"/runs/recurring/[0-9a-f-]{36}/$"))
    assert "created" in page.inner_text(".messages")
    rr = RecurringRun.objects.get(name="every minute hello")
    assert rr.max_concurrency == 1 and rr.interval_seconds == 60

    # Run now: the run appears at once (the schedule's own appear as discovery finds them).
    page.click("button:has-text('Run now')")
    page.wait_for_selector("text=Started every minute hello")
    assert page.locator("#runs-title ~ .table-wrap tbody tr").count() >= 1 or rr.runs.count() == 1
    shot(page, "recurring-detail", full_page=True)

    page.click("button:has-text('Disable')")
    page.wait_for_selector("text=is disabled")
    assert "Disabled" in page.inner_text("h1")
    page.goto(live_server.url + "/runs/recurring/")
    rows = page.locator("table tbody tr")
    assert rows.count() == 2
    assert "Disabled" in rows.filter(has_text="every minute hello").inner_text()
    assert "At 09:30, Monday through Friday" in page.inner_text("table")
    shot(page, "recurring-list", full_page=True)
    assert page.js_errors == []
