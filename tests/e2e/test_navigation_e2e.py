"""Navigation in a real Chromium, by keyboard only: the sidebar's six sections reached with Tab
and Enter, each page with a breadcrumb and a heading, empty states that say what to do next,
and the Artifacts and Executions lists with data (filter, preview drawer, Escape). Screenshots
of every section at 1440x900 and at a laptop's 1280x720 land in screenshots/."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from apps.runs.constants import ArtifactKind, RunState, StepPhase
from apps.runs.models import Artifact
from tests.experiments.builders import make_experiment, make_run, make_step, make_version

# any_database: keyboard navigation, headings, layout and the preview drawer are the pages' own;
# the lists' filters, facets and search these pages show are checked on SQLite without a browser
# (tests/runs/test_catalog_filters.py, test_catalog_views.py, test_catalog_pages.py).
pytestmark = [pytest.mark.e2e, pytest.mark.any_database]
# Locator assertions, not wait_for_function: its string predicates need eval, which the CSP refuses.
expect = pytest.importorskip("playwright.sync_api").expect

PASSWORD = "pw-nav-user-42"
SECTIONS = ("Pipelines", "Experiments", "Runs", "Recurring Runs", "Artifacts", "Executions")
VIEWPORTS = ((1440, 900), (1280, 720))
MAX_TABS = 40


@pytest.fixture
def walker(django_user_model):
    return django_user_model.objects.create_user("nav", "nav@example.com", PASSWORD)


def sign_in(page, live_server) -> None:
    page.goto(live_server.url + "/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", "nav")
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/pipelines/$"))


def focused_text(page) -> str:
    return page.evaluate("document.activeElement ? document.activeElement.innerText || '' : ''")


def tab_to(page, selector: str, name: str) -> None:
    """Press Tab from the top of the page until the element matching `selector` whose text is
    `name` has the focus; fail if the keyboard never gets there."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate(
            "([sel, name]) => { const el = document.activeElement;"
            " return !!el && el.matches(sel) && el.innerText.trim() === name; }",
            [selector, name],
        ):
            return
    raise AssertionError(f"Tab never reached {name!r} ({selector}); last: {focused_text(page)!r}")


def check_page(page, section: str) -> None:
    """A page of the app: a breadcrumb whose last item is the current page, one h1, and the
    section lit in the sidebar."""
    crumbs = page.locator("nav.breadcrumbs li")
    assert crumbs.count() >= 1, f"{section}: no breadcrumb"
    assert crumbs.last.locator("[aria-current=page]").count() == 1, f"{section}: last crumb"
    assert page.locator("h1").count() == 1 and page.locator("h1").first.is_visible(), section
    current = page.locator(".sidebar .nav-item[aria-current=page]")
    assert current.count() == 1 and current.inner_text().strip() == section


def walk_sections(page, shot, prefix: str) -> dict[str, str]:
    """Every section by keyboard; returns {section: its URL}."""
    urls = {}
    for section in SECTIONS:
        tab_to(page, ".sidebar .nav-item", section)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.wait_for_load_state("load")
        check_page(page, section)
        urls[section] = page.url
        slug = section.lower().replace(" ", "-")
        shot(page, f"{prefix}-{slug}")
    return urls


def test_empty_sections_by_keyboard(page, live_server, walker, shot):
    sign_in(page, live_server)
    # The first Tab lands on the skip link, which moves the focus to the content.
    page.keyboard.press("Tab")
    assert focused_text(page).strip() == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"

    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(live_server.url + "/pipelines/")
        walk_sections(page, shot, f"nav-{width}-empty")

    # Every section's empty list says what to do next, with a link to do it.
    for section in SECTIONS:
        tab_to(page, ".sidebar .nav-item", section)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        empty = page.locator(".empty").first
        assert empty.is_visible(), f"{section}: no empty state"
        assert empty.locator("h2, h3").count() == 1, f"{section}: empty state without a title"
        if section in ("Artifacts", "Executions"):
            # No pipeline yet: the next step is to upload one.
            assert "start a run" in empty.inner_text()
            assert empty.get_by_role("link", name="Upload pipeline").is_visible()
    assert page.js_errors == []


def build_world() -> dict:
    """Two finished runs of two pipelines, with steps and artifacts of several kinds."""
    now = timezone.now()
    churn = make_version("customer-churn", "v2")
    fraud = make_version("fraud-detection", "v1")
    demo, nightly = make_experiment("Demo"), make_experiment("Nightly")
    good = make_run(churn, demo, name="churn depth 6", state=RunState.SUCCEEDED)
    bad = make_run(fraud, nightly, name="fraud retrain", state=RunState.FAILED)
    steps = {}
    for index, (run, name, phase) in enumerate(
        [
            (good, "prepare", StepPhase.SUCCEEDED),
            (good, "train", StepPhase.SUCCEEDED),
            (good, "evaluate", StepPhase.SUCCEEDED),
            (bad, "prepare", StepPhase.SUCCEEDED),
            (bad, "train", StepPhase.FAILED),
        ]
    ):
        started = now - timedelta(minutes=30 - 5 * index)
        steps[run.name, name] = make_step(
            run,
            name,
            phase,
            template_name=f"{name}-t",
            started_at=started,
            finished_at=started + timedelta(seconds=40 + 30 * index),
            exit_code=1 if phase == StepPhase.FAILED else 0,
            resources={"cpu": 12 * (index + 1), "memory": 90 * (index + 1)},
        )
    make_step(good, good.workflow_name, StepPhase.SUCCEEDED, node_type="DAG", started_at=now)

    def artifact(run, step, name, kind, content=b"", media_type="", data=None):
        row = Artifact(run=run, step=step, name=name, kind=kind, media_type=media_type)
        row.data = data or {}
        if content:
            row.file.save(f"{run.pk}/{name}", ContentFile(content), save=False)
            row.size = len(content)
        row.save()
        return row

    evaluate = steps["churn depth 6", "evaluate"]
    artifact(
        good,
        evaluate,
        "confusion-matrix",
        ArtifactKind.CONFUSION_MATRIX,
        data={"labels": ["stays", "churns"], "matrix": [[71, 15], [25, 39]]},
    )
    artifact(
        good,
        evaluate,
        "roc",
        ArtifactKind.ROC,
        data={"points": [[0, 0, ""], [0.1, 0.6, 0.7], [0.3, 0.85, 0.4], [1, 1, ""]]},
    )
    artifact(
        good,
        evaluate,
        "report",
        ArtifactKind.HTML,
        b"<h1>Evaluation</h1><p>Accuracy 0.81</p><script>document.title='x'</script>",
        "text/html",
    )
    artifact(
        good,
        steps["churn depth 6", "train"],
        "notes",
        ArtifactKind.MARKDOWN,
        b"# Training\n\n* depth **6**\n* 200 trees\n\n<script>alert(1)</script>",
        "text/markdown",
    )
    artifact(
        good,
        steps["churn depth 6", "prepare"],
        "sample",
        ArtifactKind.TABLE,
        b"customer,tenure,churn\n1001,12,no\n1002,3,yes\n",
        "text/csv",
    )
    artifact(bad, steps["fraud retrain", "train"], "model.bin", ArtifactKind.FILE, b"\x00" * 5000)
    return {"good": good, "bad": bad}


@pytest.mark.slow
def test_sections_with_data_and_the_catalog_by_keyboard(page, live_server, walker, shot):
    build_world()
    sign_in(page, live_server)
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(live_server.url + "/pipelines/")
        walk_sections(page, shot, f"nav-{width}-data")

        # The tables fit the screen: no sideways scrolling on a laptop.
        for url in ("/artifacts/", "/executions/"):
            page.goto(live_server.url + url)
            wrap = page.locator(".table-wrap").first
            assert wrap.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), (width, url)

    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(live_server.url + "/artifacts/")
    rows = page.locator("#artifact-table tbody tr")
    assert rows.count() == 6

    # A kind facet by keyboard: the radios are one Tab stop, the arrows choose.
    page.locator(".facet input[value='']").focus()
    page.keyboard.press("ArrowRight")  # HTML is the first kind
    page.wait_for_url(re.compile(r"/artifacts/\?kind=html$"))
    expect(page.locator("#artifact-table tbody tr")).to_have_count(1)
    assert "report" in page.locator("#artifact-table").inner_text()

    # Enter on the row's link opens the preview drawer; the HTML sits in a sandboxed frame.
    tab_to(page, "#artifact-table a[data-preview]", "report")
    page.keyboard.press("Enter")
    drawer = page.locator("#preview-dialog")
    drawer.get_by_role("heading", name="report").wait_for()
    frame = drawer.locator("iframe.artifact-frame")
    assert frame.get_attribute("sandbox") == ""
    page.frame_locator("iframe.artifact-frame").get_by_text("Accuracy 0.81").wait_for()
    shot(page, "nav-1280-artifact-html-preview")
    page.keyboard.press("Escape")
    assert not drawer.is_visible()
    assert page.evaluate("document.activeElement.innerText") == "report"

    # The confusion matrix and ROC curve drawn by ECharts in the drawer.
    page.goto(live_server.url + "/artifacts/?kind=confusion_matrix")
    page.locator("a[data-preview]", has_text="confusion-matrix").click()
    drawer.locator(".chart.is-drawn svg").wait_for()
    shot(page, "nav-1280-artifact-confusion-matrix")
    drawer.get_by_role("button", name="Close the preview").click()
    page.goto(live_server.url + "/artifacts/?q=notes")
    page.locator("#artifact-table tbody tr").first.click()  # anywhere on the row
    drawer.locator(".markdown-body strong", has_text="6").wait_for()
    assert drawer.locator(".markdown-body script").count() == 0
    page.keyboard.press("Escape")

    # Executions: the failed step, and its link to the step on its run page.
    page.goto(live_server.url + "/executions/")
    assert page.locator("#execution-table tbody tr").count() == 5  # the DAG node is hidden
    page.locator("label.check-inline").click()
    page.wait_for_url(re.compile(r"all=true"))
    expect(page.locator("#execution-table tbody tr")).to_have_count(6)
    page.locator(".facet", has_text="Failed").click()
    expect(page.locator("#execution-table tbody tr")).to_have_count(1)
    row = page.locator("#execution-table tbody tr").first
    assert "exit 1" in row.inner_text() and "fraud retrain" in row.inner_text()
    shot(page, "nav-1280-executions-failed")
    with page.expect_navigation():
        row.get_by_role("link", name="train", exact=True).click()
    assert re.search(r"/runs/[0-9a-f-]+/\?node=train$", page.url)
    assert page.js_errors == [] or all("sandboxed" in e for e in page.js_errors)
