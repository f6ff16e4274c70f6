"""The pages work under the CSP in Chromium: no violation and no console error on the main
pages, charts drawn, htmx panels and filters working, dialogs opening, the admin usable.
Screenshots of the run page (a coloured log, a markdown artifact) land in screenshots/."""

from __future__ import annotations

import base64

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from apps.runs.constants import ArtifactKind, RunState, StepPhase
from apps.runs.models import Artifact, Metric
from tests.experiments.builders import make_experiment, make_run, make_step, make_version

# any_database: the CSP and the pages' scripts are what is checked, not the database's part;
# run once (PostgreSQL), not again on SQLite.
pytestmark = [pytest.mark.e2e, pytest.mark.any_database]
expect = pytest.importorskip("playwright.sync_api").expect

# A 1x1 PNG, embedded in the markdown as the only kind of image it may show.
DOT = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5f2d1f70000000049454e44ae426082"
    )
).decode()
MARKDOWN = (
    "# Evaluation notes\n\nThe model is **good** on `holdout`.\n\n"
    f"![dot](data:image/png;base64,{DOT}) embedded\n\n![remote](https://example.com/x.png)\n\n"
    "| class | recall |\n|---|---|\n| churn | 0.81 |\n"
)
LOG = (
    "\x1b[1m[ydp]\x1b[0m running evaluate.py\n"
    "\x1b[32mINFO\x1b[0m loaded 12,000 rows\n"
    "\x1b[33mWARNING\x1b[0m 3 rows dropped\n"
    "\x1b[1;31mERROR\x1b[0m threshold below \x1b[96m0.5\x1b[0m\n"
    "\x1b[2Kdone\n"
)


def _artifact(run, step, name, kind, content=b"", media="", data=None):
    artifact = Artifact(run=run, step=step, name=name, kind=kind, media_type=media, data=data or {})
    if content:
        artifact.file.save(f"{step.node_id}/{name}", ContentFile(content), save=False)
        artifact.size = len(content)
    artifact.save()
    return artifact


def clean_world():
    version = make_version("churn", "v1")
    experiment = make_experiment("baseline")
    runs = [
        make_run(
            version,
            experiment,
            state=RunState.SUCCEEDED,
            name=f"nightly {n}",
            parameters={"epochs": str(4 + n), "lr": "0.1"},
        )
        for n in (1, 2)
    ]
    for n, run in enumerate(runs):
        steps = {
            name: make_step(run, name, StepPhase.SUCCEEDED, log=LOG, log_fetched=True,
                            artifacts_fetched=True, template_name=f"{name}-t")
            for name in ("prepare", "train", "evaluate")
        }  # fmt: skip
        step = steps["evaluate"]
        Metric.objects.create(run=run, step=step, name="accuracy", value=0.8 + n / 20)
        _artifact(run, step, "confusion", ArtifactKind.CONFUSION_MATRIX,
                  data={"labels": ["stay", "churn"], "matrix": [[50, 4], [6, 40 + n]]})  # fmt: skip
        points = [[0, 0, ""], [0.1, 0.7, "0.8"], [0.3, 0.9, "0.5"], [1, 1, ""]]
        _artifact(run, step, "roc", ArtifactKind.ROC, data={"points": points})
        _artifact(run, step, "notes", ArtifactKind.MARKDOWN, MARKDOWN.encode(), "text/markdown")
        _artifact(run, step, "report", ArtifactKind.HTML, b"<h1>Report</h1>", "text/html")
    return version, experiment, runs


def test_pages_work_under_the_csp(watched, shot):
    version, experiment, (run, other) = clean_world()
    page = watched.page
    pages = [
        reverse("pipelines:list"),
        reverse("pipelines:detail", args=[version.pipeline.pk]),
        reverse("pipelines:version", args=[version.pipeline.pk, version.pk]),
        reverse("pipelines:upload"),
        reverse("experiments:list"),
        reverse("experiments:detail", args=[experiment.pk]),
        reverse("runs:list"),
        reverse("runs:create") + f"?version={version.pk}",
        run.get_absolute_url() + "?tab=output",
        run.get_absolute_url() + "?tab=details",
        reverse("compare:compare") + f"?runs={run.pk}&runs={other.pk}",
        reverse("artifacts:list"),
        reverse("executions:list"),
        reverse("recurring:list"),
        reverse("admin:index"),
        reverse("admin:runs_run_changelist"),
        reverse("admin:runs_run_change", args=[run.pk]),
        reverse("admin:runs_artifact_changelist"),
    ]
    problems: list[str] = []
    for path in pages:
        response = page.goto(watched.url(path))
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("networkidle")
        problems.extend(f"{path}: CSP {v}" for v in watched.violations())
    # Charts drew on the compare page (ECharts' SVG in each chart box).
    page.goto(watched.url(reverse("compare:compare") + f"?runs={run.pk}&runs={other.pk}"))
    page.wait_for_selector("[data-metric] svg")
    page.wait_for_selector("[data-parallel] svg")

    # The run page: the step panel through htmx, its tabs, the log in colour, the charts.
    page.goto(watched.url(run.get_absolute_url()))
    page.click('[data-open-node="evaluate"]')
    page.wait_for_selector("#step-panel [data-chart] svg")
    notes = page.wait_for_selector("#step-panel h1:has-text('Evaluation notes')")
    notes.scroll_into_view_if_needed()
    assert page.is_visible("#step-panel img[src^='data:image/png']")
    assert not page.is_visible("#step-panel img[src^='https:']")
    shot(page, "security-run-markdown")
    page.click("#step-panel .tabs >> text=Logs")
    log = page.wait_for_selector("#step-panel pre.log .ansi-red")
    assert log.evaluate("el => getComputedStyle(el).color") != page.evaluate(
        "getComputedStyle(document.querySelector('#step-panel pre.log')).color"
    )
    assert "\x1b" not in page.inner_text("#step-panel pre.log")
    shot(page, "security-run-log")
    problems.extend(f"run page: CSP {v}" for v in watched.violations())

    # A confirmation dialog opens (runs.js) and closes.
    page.click("[data-dialog='archive-dialog']")
    assert page.is_visible("dialog#archive-dialog")
    page.click("dialog#archive-dialog [data-dialog-close]")

    # The runs list's filters reload the table through htmx (no eval in hx-trigger).
    page.goto(watched.url(reverse("runs:list")))
    page.fill("#run-search", "nightly 1")
    expect(page.locator("#run-table tbody tr")).to_have_count(1)
    if not page.is_visible("#id_pipeline"):
        page.click(".rl-more > summary")
    with page.expect_response(lambda r: "/runs/" in r.url and r.request.headers.get("hx-request")):
        page.select_option("#id_pipeline", str(version.pipeline.pk))
    problems.extend(f"runs list: CSP {v}" for v in watched.violations())

    assert not problems, "\n".join(problems)
    assert not watched.console, "\n".join(watched.console)
