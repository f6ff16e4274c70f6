"""Nothing a step or an upload wrote ever runs as script in the app: every page where the
hostile world shows, in Chromium, as production has them (DEBUG off).

The payloads would set `window.__pwned` and request /canary/; neither may happen, and the
pages report no CSP violation of their own (a violation means a payload reached the DOM as
markup and only the CSP stopped it).

The sweep comes in parts, each with a world and a browser context of its own, so that xdist's
workers share it (one sweep was the suite's longest test, 78 s). DEBUG on (`make run`) changes
no template or URL of the app (urls.py no longer reads it: MEDIA_ROOT is never served); it
changes what Django renders by itself, its technical 404 page, which the debug test checks with
a hostile path, with the stored files' raw paths and the main pages.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.urls import reverse

from apps.experiments.models import Experiment
from apps.runs.artifact_views import inline_media_type
from tests.security.hostile import build, hostile

# any_database: what the sweep checks is the templates' escaping and the CSP; the database only
# hands back the hostile strings it was given. Run once (PostgreSQL), not again on SQLite:
# about 30 CPU-s of Chromium per mode (README, Tests and benchmarks).
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.any_database]
PlaywrightError = pytest.importorskip("playwright.sync_api").Error

# Shows every tooltip of every chart, one after another: the XSS of old fired on hover.
SHOW_TIPS = """async () => {
  if (!window.echarts) return 0;
  let shown = 0;
  for (const el of document.querySelectorAll('[_echarts_instance_]')) {
    const chart = window.echarts.getInstanceByDom(el);
    if (!chart) continue;
    const series = chart.getOption().series || [];
    for (let s = 0; s < series.length; s++) {
      for (let d = 0; d < (series[s].data || []).length; d++) {
        try {
          chart.dispatchAction({ type: 'showTip', seriesIndex: s, dataIndex: d });
          shown++;
        } catch (e) { /* a point ECharts cannot place (a text cell) has no tooltip */ }
        await new Promise(r => setTimeout(r, 30));
      }
    }
  }
  return shown;
}"""


def hover_charts(page) -> int:
    """Sweep the mouse over each chart (real hovers), then show every tooltip by API."""
    charts = page.query_selector_all("[_echarts_instance_]")
    if not charts:
        return 0  # no tooltip to show, and networkidle already saw every image load or fail
    for el in charts:
        try:  # a poll may swap the chart away meanwhile
            el.scroll_into_view_if_needed(timeout=2000)
            box = el.bounding_box()
        except PlaywrightError:
            continue
        if not box:
            continue
        # Six rows of nine points each; Playwright makes the row's moves in one call (steps).
        left, right = box["x"] + box["width"] / 10, box["x"] + box["width"] * 9 / 10
        for j in range(1, 7):
            y = box["y"] + box["height"] * j / 7
            page.mouse.move(left, y)
            page.mouse.move(right, y, steps=8)
    shown = page.evaluate(SHOW_TIPS)
    page.wait_for_timeout(150)  # an <img onerror> fires once its load has failed
    return shown


def pages(world) -> list[str]:
    run, other = world.runs
    version = world.version
    pipeline = version.pipeline
    urls = [
        reverse("pipelines:list"),
        reverse("pipelines:detail", args=[pipeline.pk]),
        reverse("pipelines:version", args=[pipeline.pk, version.pk]),
        reverse("experiments:list"),
        reverse("experiments:detail", args=[world.experiment.pk]),
        reverse("runs:list"),
        reverse("runs:detail", args=[run.pk]) + "?tab=output",
        reverse("runs:detail", args=[run.pk]) + "?tab=details",
        reverse("runs:create") + f"?clone={run.pk}",
        reverse("runs:create") + f"?version={version.pk}",
        reverse("compare:compare") + f"?runs={run.pk}&runs={other.pk}",
        reverse("artifacts:list"),
        reverse("executions:list"),
        reverse("recurring:list"),
        reverse("recurring:detail", args=[world.recurring.pk]),
    ]
    for panel in ("artifacts", "config", "logs"):
        urls.append(reverse("runs:detail", args=[run.pk]) + f"?node=evaluate&panel={panel}")
    for artifact in world.artifacts.values():
        urls.append(reverse("artifacts:detail", args=[artifact.pk]))
        if artifact.file and inline_media_type(artifact):  # the sandboxing view, top-level
            urls.append(reverse("runs:artifact", args=[artifact.run_id, artifact.pk]))
    admin = [
        ("pipelines", "pipeline", pipeline.pk),
        ("pipelines", "pipelineversion", version.pk),
        ("experiments", "experiment", world.experiment.pk),
        ("runs", "run", run.pk),
        ("recurring", "recurringrun", world.recurring.pk),
        *[("runs", "step", step.pk) for step in run.steps.all()],
        *[("runs", "artifact", a.pk) for a in world.artifacts.values()],
        *[("runs", "metric", m.pk) for m in run.metrics.all()],
    ]
    for app, model, pk in admin:
        urls.append(reverse(f"admin:{app}_{model}_changelist"))
        urls.append(reverse(f"admin:{app}_{model}_change", args=[pk]))
    return list(dict.fromkeys(urls))


def check(watched, path: str, problems: list[str]) -> None:
    page = watched.page
    response = page.goto(watched.url(path))
    assert response is not None and response.status < 500, f"{path}: HTTP {response.status}"
    page.wait_for_load_state("networkidle")
    hover_charts(page)
    if page.evaluate("window.__pwned") is not None:
        problems.append(f"{path}: a payload ran")
    problems.extend(f"{path}: CSP {v}" for v in watched.violations())


PARTS = 3


def raw_media_served(watched, world) -> list[str]:
    """The stored files by their storage paths: never served raw, in any mode."""
    page, problems = watched.page, []
    for artifact in world.artifacts.values():
        if not artifact.file:
            continue
        raw = quote(f"/media/{artifact.file.name}")
        status = page.request.get(watched.url(raw), max_redirects=0).status
        if status != 404:
            problems.append(f"{raw}: HTTP {status}, not 404")
            try:  # served: does it run when opened?
                page.goto(watched.url(raw))
                page.wait_for_timeout(100)
            except PlaywrightError:  # a download, or a path Chromium will not open
                continue
            if page.evaluate("window.__pwned") is not None:
                problems.append(f"{raw}: a payload ran")
    return problems


def drive_the_step_panel(watched, world, shot, name: str) -> list[str]:
    """The run page, driven as a user does: the step panel and its tabs load through htmx."""
    page = watched.page
    page.goto(watched.url(reverse("runs:detail", args=[world.runs[0].pk])))
    page.click('[data-open-node="evaluate"]')
    page.wait_for_selector("#step-panel [data-chart]", state="attached")
    hover_charts(page)
    for tab in ("Config", "Logs", "Artifacts"):
        page.click(f"#step-panel .tabs >> text={tab}")
        page.wait_for_load_state("networkidle")
        hover_charts(page)
    page.click("#step-panel .tabs >> text=Logs")
    page.wait_for_selector("#step-panel pre.log")
    shot(page, name)
    problems = []
    if page.evaluate("window.__pwned") is not None:
        problems.append("run page with the step panel: a payload ran")
    problems.extend(f"run page panel: CSP {v}" for v in watched.violations())
    return problems


@pytest.mark.parametrize("part", range(PARTS))
def test_no_payload_runs_on_any_page(part, watched, shot):
    world = build()
    experiments = Experiment.objects.count()
    every = pages(world)
    problems: list[str] = []
    for path in every[part::PARTS]:
        check(watched, path, problems)
    if part == 0:
        problems += drive_the_step_panel(watched, world, shot, "security-run-log-nodebug")
    if part == 1:
        problems += raw_media_served(watched, world)
    assert not problems, "\n".join(problems)
    assert watched.canary == []
    assert Experiment.objects.count() == experiments


def test_debug_mode_runs_no_payload(settings, watched, shot):
    """DEBUG on: Django's technical 404 page echoes a hostile path; the main pages, the step
    panel and the stored files' raw paths are as in production."""
    settings.DEBUG = True
    world = build()
    problems: list[str] = []
    missing = "/runs/nowhere/" + quote(hostile("path"), safe="")
    response = watched.page.goto(watched.url(missing))
    assert response is not None and response.status == 404
    assert "Page not found" in watched.page.content()  # the technical page, not the app's
    if watched.page.evaluate("window.__pwned") is not None:
        problems.append(f"{missing}: a payload ran")
    main = [p for p in pages(world) if "/admin/" not in p and "/artifacts/" not in p]
    for path in main[:8]:
        check(watched, path, problems)
    problems += drive_the_step_panel(watched, world, shot, "security-run-log-debug")
    problems += raw_media_served(watched, world)
    assert not problems, "\n".join(problems)
    assert watched.canary == []


def test_the_canary_is_seen(watched):
    """The sweep's canary watch (requests seen, not routed) sees a page's request to /canary/:
    else a payload that ran and called home would go unnoticed."""
    page = watched.page
    page.goto(watched.url(reverse("pipelines:list")))
    # Events come in order: the request's is handled before evaluate returns the status.
    status = page.evaluate("fetch('/canary/probe?x=1').then(r => r.status)")
    assert status == 404  # the live server answers: nothing stands in for the app any more
    assert len(watched.canary) == 1 and "/canary/probe?x=1" in watched.canary[0]
