"""The run form's Run type in Chromium: One-off hides the schedule, Recurring shows it (trigger,
start/end, max concurrent runs, catchup) and the form creates a recurring run. Reached from a
version page's "Create run". Screenshots: run-form-one-off.png, run-form-recurring*.png."""

from __future__ import annotations

import re

import pytest

from apps.experiments.models import Experiment
from apps.recurring.models import RecurringRun
from apps.runs.models import Run
from tests.recurring.fixtures import hello_version

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
# Locator assertions, not wait_for_function: its string predicates need eval, which the CSP refuses.
expect = pytest.importorskip("playwright.sync_api").expect
PASSWORD = "pw-rita-123"


def test_switch_to_recurring_and_create_it(page, live_server, argo, shot, django_user_model):
    django_user_model.objects.create_user("rita", "rita@example.com", PASSWORD)
    version = hello_version(pipeline_name="hello pipeline")
    Experiment.objects.create(name="nightly checks")

    page.goto(f"{live_server.url}/pipelines/{version.pipeline_id}/versions/{version.pk}/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.click("text=Create run")
    page.wait_for_url(re.compile(r"/runs/new/\?version="))

    schedule = page.locator("[data-run-type-section=recurring]")
    submit = page.locator("[data-run-submit]")
    expect(page.locator("input[name=run_type][value=one_off]")).to_be_checked()
    expect(schedule).to_be_hidden()
    expect(submit).to_have_text("Start run")
    shot(page, "run-form-one-off", full_page=True)

    page.check("input[name=run_type][value=recurring]")
    expect(schedule).to_be_visible()
    expect(submit).to_have_text("Create recurring run")
    for field in ("#id_every", "#id_start_at", "#id_end_at", "#id_max_concurrency", "#id_catchup"):
        expect(page.locator(field)).to_be_visible()
    page.fill("#id_name", "hourly hello")
    page.select_option("#id_experiment", label="nightly checks")
    page.fill("#id_param_greeting", "salut")

    # A bad cron: the live preview says so, the submit is refused and Recurring stays chosen.
    page.check("input[name=trigger_type][value=cron]")
    page.fill("#id_cron", "61 * * * *")
    expect(page.locator("#trigger-preview.is-error")).to_contain_text("minute field")
    submit.click()
    expect(page.locator(".alert-error")).to_contain_text("The recurring run was not created")
    expect(page.locator("input[name=run_type][value=recurring]")).to_be_checked()
    expect(schedule).to_be_visible()
    assert RecurringRun.objects.count() == 0
    shot(page, "run-form-recurring-error", full_page=True)

    page.check("input[name=trigger_type][value=periodic]")
    page.fill("#id_every", "1")
    page.select_option("#id_every_unit", "hours")
    page.fill("#id_max_concurrency", "2")
    page.check("#id_catchup")
    expect(page.locator("#trigger-preview")).to_contain_text("Every hour")
    shot(page, "run-form-recurring", full_page=True)
    submit.click()
    page.wait_for_url(re.compile(r"/runs/recurring/[0-9a-f-]{36}/$"))
    expect(page.locator(".messages")).to_contain_text("hourly hello")
    recurring = RecurringRun.objects.get()
    assert (recurring.name, recurring.interval_seconds) == ("hourly hello", 3600)
    assert (recurring.max_concurrency, recurring.catchup) == (2, True)
    assert recurring.pipeline_version == version
    assert recurring.parameters == {"greeting": "salut", "count": "3"}
    assert Run.objects.count() == 0  # nothing started now: it runs on its schedule
    assert page.js_errors == []


def test_recurring_on_the_latest_version(page, live_server, argo, shot, django_user_model):
    """ "Always the latest version" chosen in the version list: the form redraws with the newest
    version's parameters and says what each type does with it; the recurring run keeps no
    version and its page says "Always the latest version"."""
    django_user_model.objects.create_user("rita", "rita@example.com", PASSWORD)
    version = hello_version(pipeline_name="hello latest")
    newer = hello_version(pipeline=version.pipeline)
    Experiment.objects.create(name="nightly checks")

    page.goto(f"{live_server.url}/runs/new/?version={version.pk}&run_type=recurring")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/runs/new/\?version="))
    page.select_option("#id_version", label="Always the latest version")
    help_text = page.locator("#latest-version-help")
    expect(help_text).to_contain_text("each run takes the version that is newest")
    expect(help_text.get_by_role("link")).to_have_text(newer.name)
    page.fill("#id_name", "latest hello")
    page.select_option("#id_experiment", label="nightly checks")
    page.check("input[name=trigger_type][value=cron]")
    page.fill("#id_cron", "0 6 * * *")
    shot(page, "run-form-recurring-latest", full_page=True)
    page.locator("[data-run-submit]").click()
    page.wait_for_url(re.compile(r"/runs/recurring/[0-9a-f-]{36}/$"))
    expect(page.get_by_text("Always the latest version")).to_be_visible()
    assert RecurringRun.objects.get().pipeline_version is None
    assert page.js_errors == []
