"""Metric history in a real Chromium: a step that logged 100 epochs of loss gets a line chart on
its run's Output tab, and the compare page overlays two runs' curves in one chart, each in its
run's colour. Screenshots land in screenshots/."""

from __future__ import annotations

import math
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.runs.constants import RunState, StepPhase
from apps.runs.metric_history import parse_history
from apps.runs.outputs import _store
from tests.experiments.builders import make_experiment, make_run, make_step, make_version

pytestmark = pytest.mark.e2e
# Locator assertions, not wait_for_function: its string predicates need eval, which the CSP refuses.
expect = pytest.importorskip("playwright.sync_api").expect

PASSWORD = "pw-metrics-user-42"


def log_epochs(run, rate: float) -> None:
    """What a training step's log_metric calls leave behind, stored as the sync stores it."""
    lines = []
    for epoch in range(100):
        loss = 2.0 * math.exp(-rate * epoch) + 0.05 * (1 + math.sin(epoch / 3))
        lines.append(f'{{"name": "loss", "value": {loss}, "step": {epoch}}}')
        lines.append(f'{{"name": "accuracy", "value": {1 - loss / 2.2}, "step": {epoch}}}')
    history = parse_history(("\n".join(lines) + "\n").encode())
    step = make_step(run, "train", StepPhase.SUCCEEDED)
    _store(step, "", [], [], [], history)


def sign_in(page, live_server) -> None:
    page.goto(live_server.url + "/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", "curves")
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/pipelines/$"))


def test_history_charts_on_the_output_tab_and_compare(
    page, live_server, shot, django_user_model, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    django_user_model.objects.create_user("curves", "c@example.com", PASSWORD)
    version, experiment = make_version(), make_experiment("curves")
    now = timezone.now()
    fast = make_run(version, experiment, state=RunState.SUCCEEDED, name="lr 0.1",
                    submitted_at=now, finished_at=now)  # fmt: skip
    slow = make_run(version, experiment, state=RunState.SUCCEEDED, name="lr 0.01",
                    submitted_at=now, finished_at=now)  # fmt: skip
    log_epochs(fast, 0.08)
    log_epochs(slow, 0.02)
    sign_in(page, live_server)

    page.goto(live_server.url + fast.get_absolute_url() + "?tab=output")
    section = page.locator("#metric-history")
    expect(section.get_by_role("heading", name=re.compile("Metric history"))).to_be_visible()
    loss = section.locator("figure", has_text="loss").filter(has_not_text="accuracy")
    expect(loss.locator("figcaption")).to_contain_text("100 points")
    plot = loss.locator("[data-history]")
    expect(plot).to_have_class(re.compile("is-drawn"))
    # The line (ECharts' SVG renderer draws it as one path in the chart's colour).
    expect(plot.locator('svg path[stroke="#4e79a7"]')).to_have_count(1)
    box = plot.bounding_box()
    assert box and box["height"] > 200 and box["width"] > 300
    plot.hover(position={"x": box["width"] / 2, "y": box["height"] / 2})
    expect(page.get_by_text(re.compile(r"loss at step \d+"))).to_be_visible()
    section.scroll_into_view_if_needed()
    shot(page, "metric-history-01-output-tab")

    page.goto(live_server.url + reverse("compare:compare") + f"?runs={fast.pk},{slow.pk}")
    charts = page.locator("#charts")
    expect(charts.get_by_role("heading", name=re.compile("Metric history"))).to_be_visible()
    overlay = charts.locator("figure", has_text="loss").filter(has_text="2 runs").first
    plot = overlay.locator("[data-history]")
    expect(plot).to_have_class(re.compile("is-drawn"))
    # Both runs' curves, each in its run's colour from the page's data.
    colours = page.evaluate(
        "JSON.parse(document.getElementById('compare-data').textContent).runs.map(r => r.color)"
    )
    for colour in colours:
        expect(plot.locator(f'svg path[stroke="{colour}"]').first).to_be_attached()
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    plot.hover(position={"x": box["width"] / 3, "y": box["height"] / 2})
    tooltip = page.get_by_text(re.compile(r"loss at step \d+"))
    expect(tooltip).to_be_visible()
    shot(page, "metric-history-02-compare")
    assert page.js_errors == []
