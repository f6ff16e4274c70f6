"""In a real Chromium: a waiting step's reason shows in the run page's banner and in its graph
node's tooltip, and the poll keeps both current (a new reason, then none once it runs)."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from apps.runs.constants import StepPhase
from apps.runs.models import Run
from apps.runs.push import publish
from tests.e2e.test_run_graph_live_e2e import node, sign_in
from tests.experiments.builders import make_experiment, make_run, make_step, make_version

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.e2e
PASSWORD = "pw-graph-user-9"
CPU = "Unschedulable: 0/1 nodes are available: 1 Insufficient cpu. (cpu: requested 4, free 1.5)"


@pytest.fixture
def viewer(django_user_model):
    return django_user_model.objects.create_user("graph", "graph@example.com", PASSWORD)


def test_the_waiting_reason_follows_the_poll(page, live_server, viewer, shot):
    run = make_run(
        make_version(), make_experiment("waits"), submitted_at=timezone.now(),
        last_synced_at=timezone.now(),
    )  # fmt: skip
    make_step(run, "prepare", StepPhase.SUCCEEDED, started_at=timezone.now())
    train = make_step(run, "train", StepPhase.PENDING, message=CPU)
    sign_in(page, live_server)
    page.goto(live_server.url + run.get_absolute_url())
    banner = page.locator(".run-message")
    expect(banner).to_contain_text(f"Step “train” is waiting: {CPU}")
    title = node(page, "train").locator("title")
    expect(title).to_have_text(re.compile(re.escape(f"Pending\n{CPU}") + "$"))
    shot(page, "run-waiting-reason")

    # another reason, then the step runs: the poll updates the banner and the tooltip
    Run.objects.filter(pk=run.pk).update(last_synced_at=timezone.now())
    parallelism = "Waiting for the template's parallelism"
    type(train).objects.filter(pk=train.pk).update(message=parallelism)
    publish({run.pk: run.state})  # as the sync does after its writes (docs/live.md)
    expect(title).to_have_text(re.compile(re.escape(f"Pending\n{parallelism}") + "$"))
    expect(banner).to_contain_text(parallelism)
    type(train).objects.filter(pk=train.pk).update(phase=StepPhase.RUNNING, message="")
    publish({run.pk: run.state})
    expect(title).to_have_text(re.compile(r"\nRunning$"))
    expect(page.locator(".run-message")).to_have_count(0)
    assert page.js_errors == []  # type: ignore[attr-defined]
