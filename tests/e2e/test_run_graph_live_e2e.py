"""In a real Chromium: a run's graph fans a looped task out to its iterations and badges a
retried step; the phase poll recolours iteration nodes, redraws the graph when new iterations
appear, and a click opens an iteration's panel; the runs list refreshes itself while a run is
active, keeping the ticked boxes. Screenshots land in screenshots/."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from apps.runs.constants import RunState, StepPhase
from apps.runs.models import Run
from apps.runs.push import publish
from tests.experiments.builders import make_experiment, make_run, make_step, make_version

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.e2e
PASSWORD = "pw-graph-user-9"


@pytest.fixture
def viewer(django_user_model):
    return django_user_model.objects.create_user("graph", "graph@example.com", PASSWORD)


def sign_in(page, live_server) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", "graph")
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/pipelines/$"))


# A mutation observer runs once the task that swapped the table is over (before the browser
# paints): it sees what the user would see first.
TABLE_TICKS = """
new MutationObserver((records) => {
  if (!records.some((r) => Array.from(r.addedNodes).some((n) => n.id === "run-table"))) return;
  const ticks = document.querySelectorAll("#run-table input.rl-pick:checked").length;
  const root = document.documentElement;
  root.dataset.tableTicks = (root.dataset.tableTicks ? root.dataset.tableTicks + "," : "") + ticks;
}).observe(document, { childList: true, subtree: true });
"""


def table_ticks(page) -> list[int]:
    """The number of ticked boxes of each table the live list swapped in, in order."""
    raw = page.locator("html").get_attribute("data-table-ticks") or ""
    return [int(n) for n in raw.split(",") if n]


def node(page, key: str):
    return page.locator(f'[data-run-graph] .node[data-node="{key}"]')


def test_iterations_retries_and_the_live_list(page, live_server, viewer, shot):
    version = make_version()
    experiment = make_experiment("loops")
    run = make_run(version, experiment, submitted_at=timezone.now(), last_synced_at=timezone.now())
    other = make_run(version, experiment, state=RunState.SUCCEEDED, name="an older run")
    make_step(run, "prepare", StepPhase.SUCCEEDED, started_at=timezone.now())
    make_step(run, "train(0:a)", StepPhase.SUCCEEDED, log="item a", log_fetched=True)
    make_step(run, "train(1:b)", StepPhase.RUNNING, started_at=timezone.now())
    make_step(run, "evaluate", StepPhase.RUNNING, node_type="Retry", pod_name="")
    make_step(run, "evaluate(0)", StepPhase.FAILED, message="Error (exit code 1): ValueError")
    make_step(run, "evaluate(1)", StepPhase.RUNNING)
    sign_in(page, live_server)

    page.goto(live_server.url + run.get_absolute_url())
    assert "phase-running" in node(page, "train(1:b)").get_attribute("class")
    assert "2 attempts" in node(page, "evaluate").text_content()
    assert "2 iterations" in node(page, "train").text_content()

    # The poll recolours an iteration, and draws one that appeared, without a reload.
    Run.objects.filter(pk=run.pk).update(last_synced_at=timezone.now())
    run.steps.filter(display_name="train(1:b)").update(phase=StepPhase.SUCCEEDED)
    make_step(run, "train(2:c)", StepPhase.RUNNING, started_at=timezone.now())
    publish({run.pk: run.state})  # as the sync does after its writes (docs/live.md)
    # A locator assertion, not wait_for_function: its string predicate needs eval (CSP).
    expect(node(page, "train(1:b)")).to_have_class(re.compile(r"\bphase-succeeded\b"))
    node(page, "train(2:c)").wait_for()
    assert "3 iterations" in node(page, "train").text_content()
    shot(page, "run-graph-iterations")

    # A click on an iteration opens its panel with its log.
    node(page, "train(0:a)").click()
    page.locator("#step-panel .step-panel-inner[data-node-key='train(0:a)']").wait_for()
    page.locator("#step-panel a", has_text="Logs").click()
    page.locator("#log-view", has_text="item a").wait_for()
    node(page, "evaluate").click()
    # Its panel first: a tab clicked while the panel still shows train(0:a) replaces the
    # panel's request in flight (hx-sync), as a user's later click should.
    page.locator("#step-panel .step-panel-inner[data-node-key='evaluate']").wait_for()
    page.locator("#step-panel a", has_text="Logs").click()
    page.locator("[data-attempts]").wait_for()
    shot(page, "run-graph-attempts")
    page.locator("#step-panel a", has_text="Config").click()
    page.locator(".not-enforced").wait_for()
    shot(page, "run-step-config")
    assert page.js_errors == []  # type: ignore[attr-defined]

    # The runs list: live while the run is active; a ticked box survives the refresh, and no
    # refreshed table is ever painted with it unticked (TABLE_TICKS notes each new table's ticks).
    page.add_init_script(TABLE_TICKS)
    page.goto(live_server.url + "/runs/")
    page.locator(f'input.rl-pick[value="{other.pk}"]').check()
    seen_before = len(table_ticks(page))
    Run.objects.filter(pk=run.pk).update(state=RunState.SUCCEEDED, finished_at=timezone.now())
    publish({run.pk: RunState.SUCCEEDED})
    row = page.locator("#run-table tr", has_text=run.name)
    row.locator(".state-succeeded").wait_for(timeout=10_000)
    assert page.locator(f'input.rl-pick[value="{other.pk}"]').is_checked()
    assert len(table_ticks(page)) > seen_before  # the refresh swapped the table
    assert all(ticks == 1 for ticks in table_ticks(page)[seen_before:]), table_ticks(page)
    assert page.locator("[data-run-poll]").count() == 0  # nothing active: the poll stopped
    assert page.locator("[data-selected-count]").inner_text() == "1 selected"
    shot(page, "runs-list-live")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_version_page_names_what_the_engine_refuses(page, live_server, viewer, shot, settings):
    from apps.pipelines.models import EngineCheck

    version = make_version()
    EngineCheck.objects.create(
        version=version,
        server=settings.ARGO_SERVER,
        outcome="refused",
        message="unsupported: spec.templates[2].resource",
        checked_at=timezone.now(),
    )
    sign_in(page, live_server)
    page.goto(live_server.url + version.get_absolute_url())
    warning = page.locator('[data-engine-check="refused"]')
    assert "cannot run this pipeline: unsupported: spec.templates[2].resource" in (
        warning.inner_text()
    )
    shot(page, "version-engine-refused")
